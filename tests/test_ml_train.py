"""`ml-weekly` end to end on ten weeks from the local server: real dbt roles, real splits.

The backfill job builds the warehouse (tap, loader, dbt, gate, marts) for conftest's
BACKFILL_START..BACKFILL_END at the tests' low volume: the shared conftest.backfilled, which
test_job_state continues with the daily job; this test trains in a copy of its own. The ML
job parses the dbt project (the manifest with every column's ml_role) and trains. Ten weeks
because a label settles 42 days after the purchase at the soonest with the local server's
plans (4 or 6 bi-weekly installments): a shorter history leaves no row whose label a lender
would know before validation starts, and the utility refuses an empty train split.
"""

from __future__ import annotations

import json

import pytest

from conftest import Project

pytestmark = [pytest.mark.job, pytest.mark.slow]

MODELS = 4  # the prior rate, risk_score alone, every feature, without the label proxies


def test_ml_weekly_trains_on_settled_labels_and_records_the_run(after_backfill: Project) -> None:
    # The backfill job ran (and passed) in the shared conftest.backfilled.
    project = after_backfill
    splits = dict(
        project.query(
            "SELECT dataset_split, count(*) FROM marts.mart_bnpl_ml_training_set GROUP BY 1"
        )
    )
    assert {"train", "validation", "test", "excluded"} <= set(splits), splits
    (validation_start,) = project.query(
        "SELECT min(transaction_date) FROM marts.mart_bnpl_ml_training_set "
        "WHERE dataset_split = 'validation'"
    )[0]
    (late_labels,) = project.query(
        "SELECT count(*) FROM marts.mart_bnpl_ml_training_set "
        "WHERE dataset_split = 'train' AND label_available_at >= ?",
        [validation_start],
    )[0]
    assert late_labels == 0

    card_dir = project.workdir / "ml"
    trained = project.meltano(
        "run",
        "ml-weekly",
        BNPL_ML_MANIFEST_PATH=str(project.workdir / "dbt-target" / "manifest.json"),
        BNPL_ML_OUTPUT_DIR=str(card_dir),
    )
    assert trained.returncode == 0, trained.tail()

    runs = project.query(
        "SELECT run_id, model, train_rows, validation_rows, test_rows, test_roc_auc, features "
        "FROM ml.model_runs ORDER BY model"
    )
    assert len(runs) == MODELS, runs
    assert len({run[0] for run in runs}) == 1
    # The utility trained on exactly the rows dbt put in each split.
    assert {run[2:5] for run in runs} == {(splits["train"], splits["validation"], splits["test"])}
    assert all(0.0 <= run[5] <= 1.0 for run in runs)
    features_by_model = {run[1]: json.loads(run[6]) or [] for run in runs}
    proxy_free = next(
        features for model, features in features_by_model.items() if "proxies" in model
    )
    assert proxy_free, features_by_model
    assert not {"risk_score", "risk_level", "risk_scenario", "credit_utilization"} & set(
        proxy_free
    ), proxy_free

    card = (card_dir / "model_card.html").read_text()
    assert card.count("data:image/png;base64,") >= 3
    for model, *_ in runs:
        assert model in card
