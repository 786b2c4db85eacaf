"""The dbt transform on DuckDB over local-server data, through Meltano's dbt-duckdb utility.

Real parts only: the local simtom-compatible server over loopback, `meltano run` of the tap
into target-duckdb-append, and `meltano invoke dbt-duckdb ...` (meltano-dbt-ext running dbt).

Shared, each test on a copy of its own: the week loaded in raw (conftest.week_loaded, which
test_dbt_ml_marts builds on too), and the daily job's first run (conftest.published_daily),
whose dbt build is the first one the incremental runs continue from.
"""

from __future__ import annotations

import json
import math
from itertools import pairwise

import pytest

from conftest import PUBLISHED_END, WEEK_END, WEEK_START, Project, days_between

pytestmark = [pytest.mark.job, pytest.mark.slow]

LABELS = {"will_default", "days_to_first_missed_payment"}
# A lookback of one day makes the incremental window easy to state: the last merged day.
LOOKBACK = json.dumps({"bnpl_lookback_days": 1})


def dbt(project: Project, *args: str) -> dict:
    """`meltano invoke dbt-duckdb ARGS`; returns dbt's run_results.json for the invocation."""
    run = project.meltano("invoke", "dbt-duckdb", *args)
    assert run.returncode == 0, run.tail()
    return json.loads((project.workdir / "dbt-target" / "run_results.json").read_text())


def relation(model: str) -> str:
    """schema.model of a model of this project in DuckDB."""
    return f"staging.{model}" if model.startswith("stg_") else f"marts.{model}"


def invocation_per_day(project: Project, model: str) -> dict[str, set[str]]:
    """{day: invocation ids that last wrote the model's rows of that day}."""
    per_day: dict[str, set[str]] = {}
    for day, invocation in project.query(
        f"SELECT DISTINCT transaction_date::VARCHAR, dbt_invocation_id FROM {relation(model)}"
    ):
        per_day.setdefault(day, set()).add(invocation)
    return per_day


def days_written_by(project: Project, model: str, invocation_id: str) -> list[str]:
    rows = project.query(
        f"SELECT DISTINCT transaction_date::VARCHAR FROM {relation(model)} "
        "WHERE dbt_invocation_id = ? ORDER BY 1",
        [invocation_id],
    )
    return [day for (day,) in rows]


def raw_keys_per_day(project: Project) -> dict[str, int]:
    """Distinct transaction keys per day in the raw layer (which may hold replays)."""
    return project.per_day(
        "SELECT transaction_date, count(DISTINCT transaction_key) FROM raw.transactions "
        "GROUP BY 1 ORDER BY 1"
    )


def customers_written_by(project: Project, model: str, invocation_id: str) -> set[str]:
    rows = project.query(
        f"SELECT customer_key FROM marts.{model} WHERE dbt_invocation_id = ?", [invocation_id]
    )
    return {customer for (customer,) in rows}


# Every column of the marts a daily run maintains incrementally, but the bookkeeping ones.
BOOKKEEPING = (
    "dbt_invocation_id",
    "dbt_updated_at",
    "source_updated_at",
    "reconciliation_updated_at",
    "previous_customer_key",
)
COMPARED_MARTS = (
    "mart_bnpl_transactions",
    "mart_bnpl_customers",
    "mart_bnpl_customer_analytics",
    "mart_bnpl_ml_features",
    "mart_bnpl_ml_training_set",
    "mart_bnpl_daily_kpis",
    "mart_bnpl_risk_features",
    "mart_bnpl_reconciliation",
)


def mart_contents(project: Project) -> dict[str, list[tuple]]:
    """Each compared mart's rows without bookkeeping columns, sorted (by its key, the first
    column of each)."""
    contents = {}
    for model in COMPARED_MARTS:
        columns = [
            name
            for (name,) in project.query(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'marts' AND table_name = ? ORDER BY ordinal_position",
                [model],
            )
            if name not in BOOKKEEPING
        ]
        contents[model] = project.query(
            f"SELECT {', '.join(columns)} FROM marts.{model} ORDER BY ALL"
        )
    return contents


def same_value(left: object, right: object) -> bool:
    """Equal, floats to within 1e-9 relative: sums in another order differ in the last bits
    (and rounding both to fixed digits would split a value that lies on a rounding boundary,
    such as an average of exactly 0.3358203125)."""
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)
    return left == right


def assert_same_contents(built: dict[str, list[tuple]], rebuilt: dict[str, list[tuple]]) -> None:
    assert built.keys() == rebuilt.keys()
    for model, rows in built.items():
        assert len(rows) == len(rebuilt[model]), model
        for row, other in zip(rows, rebuilt[model], strict=True):
            assert len(row) == len(other) and all(map(same_value, row, other)), (model, row, other)


def test_dbt_build_passes_on_a_week_and_exports_the_training_set(week: Project) -> None:
    # The week in raw, loaded by the tap and the loader alone (the shared week_loaded).
    project = week
    results = dbt(project, "build")
    statuses = {result["unique_id"]: result["status"] for result in results["results"]}
    assert statuses, "dbt build ran nothing"
    assert {status for status in statuses.values()} <= {"success", "pass"}, statuses
    unit_tests = [uid for uid in statuses if uid.startswith("unit_test.")]
    data_tests = [uid for uid in statuses if uid.startswith("test.")]
    assert len(unit_tests) >= 4
    assert len(data_tests) >= 100
    for singular in (
        "assert_reconciliation_balanced",
        "assert_ml_features_history_strictly_earlier",
    ):
        assert f"test.bnpl.{singular}" in statuses

    # Every day of the week reached the marts whole, and the features mart holds no label.
    raw = project.raw_transactions_per_day()
    assert list(raw) == days_between(WEEK_START, WEEK_END)
    mart = project.per_day(
        "SELECT transaction_date, count(*) FROM marts.mart_bnpl_transactions GROUP BY 1 ORDER BY 1"
    )
    assert mart == raw
    feature_columns = {
        name
        for (name,) in project.query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'marts' AND table_name = 'mart_bnpl_ml_features'"
        )
    }
    assert feature_columns and not feature_columns & LABELS
    for layer in ("staging", "intermediate", "marts"):
        (tables,) = project.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ?", [layer]
        )[0]
        assert tables > 0, f"nothing landed in schema {layer}"

    docs = project.meltano("invoke", "dbt-duckdb:docs-generate")
    assert docs.returncode == 0, docs.tail()
    catalog = json.loads((project.workdir / "dbt-target" / "catalog.json").read_text())
    assert "model.bnpl.mart_bnpl_ml_training_set" in catalog["nodes"]

    export_dir = project.workdir / "training_set"
    export = project.meltano(
        "invoke", "dbt-duckdb:export-training-set", BNPL_EXPORT_URI=str(export_dir)
    )
    assert export.returncode == 0, export.tail()
    # A week is shorter than the label horizon: its train-period rows are excluded (labels
    # not settled before validation starts) and so are the gap days; excluded rows stay behind.
    expected = dict(
        project.query(
            "SELECT dataset_split, count(*) FROM marts.mart_bnpl_ml_training_set "
            "WHERE dataset_split != 'excluded' GROUP BY 1"
        )
    )
    assert expected and set(expected) <= {"train", "validation", "test"}
    assert not (export_dir / "dataset_split=excluded").exists()
    split_days: dict[str, tuple[str, str]] = {}
    for split, rows in expected.items():
        files = sorted((export_dir / f"dataset_split={split}").glob("*.parquet"))
        assert files, f"no Parquet file for split {split}"
        pattern = str(export_dir / f"dataset_split={split}" / "*.parquet")
        count, first, last, labelled = project.query(
            "SELECT count(*), min(transaction_date)::VARCHAR, max(transaction_date)::VARCHAR, "
            "count(will_default) FROM read_parquet(?)",
            [pattern],
        )[0]
        assert count == rows == labelled
        split_days[split] = (first, last)
    in_time_order = [split for split in ("train", "validation", "test") if split in split_days]
    for earlier, later in pairwise(in_time_order):
        assert split_days[earlier][1] < split_days[later][0]

    # Allowed values come from one seed: a value it does not list fails its field's test.
    seeded_tests = [uid for uid in statuses if ".accepted_values_from_seed_" in uid]
    assert len(seeded_tests) >= 25
    project.execute(
        "UPDATE staging.stg_simtom__transactions SET installment_count = 5, "
        "customer_age_bracket = '16-17' WHERE transaction_key = "
        "(SELECT min(transaction_key) FROM staging.stg_simtom__transactions)"
    )
    tested = project.meltano(
        "invoke", "dbt-duckdb", "test", "--select", "stg_simtom__transactions,test_type:generic"
    )
    assert tested.returncode != 0
    results = json.loads((project.workdir / "dbt-target" / "run_results.json").read_text())
    failing = {r["unique_id"].split(".")[2] for r in results["results"] if r["status"] == "fail"}
    assert failing == {
        "accepted_values_from_seed_stg_simtom__transactions_installment_count",
        "accepted_values_from_seed_stg_simtom__transactions_customer_age_bracket",
    }, failing


def test_incremental_run_touches_only_new_days_and_the_lookback(published: Project) -> None:
    # The first build: the daily job's first run (the shared published_daily), its dbt
    # build-marts step the last invocation, which wrote every mart row.
    project = published
    first_days = days_between(WEEK_START, PUBLISHED_END)
    new_days = days_between("2024-11-29", WEEK_END)
    incremental = ("mart_bnpl_transactions", "mart_bnpl_ml_features", "mart_bnpl_daily_kpis")

    first = json.loads((project.workdir / "dbt-target" / "run_results.json").read_text())
    first_id = first["metadata"]["invocation_id"]
    for model in incremental:
        assert days_written_by(project, model, first_id) == first_days

    # Daily run: the tap continues from its state with the new days only.
    project.extract_load(WEEK_START, WEEK_END)
    second = dbt(project, "build", "--vars", LOOKBACK)
    second_id = second["metadata"]["invocation_id"]
    # Staging merges only what was loaded since; the marts add the lookback day.
    assert days_written_by(project, "stg_simtom__transactions", second_id) == new_days
    for model in incremental:
        # New days plus the one lookback day are rewritten; older days keep the first run's rows.
        assert days_written_by(project, model, second_id) == [PUBLISHED_END, *new_days], model
        untouched = invocation_per_day(project, model)
        assert all(untouched[day] == {first_id} for day in first_days[:-1]), model
    # Customer-grain marts rewrite only the customers of the rewritten transactions.
    touched = customers_written_by(project, "mart_bnpl_transactions", second_id)
    for model in ("mart_bnpl_customers", "mart_bnpl_customer_analytics"):
        rewritten = customers_written_by(project, model, second_id)
        assert rewritten and rewritten <= touched, model
    (all_customers,) = project.query("SELECT count(*) FROM marts.mart_bnpl_customers")[0]
    assert len(touched) < all_customers
    # The build's data tests read only what it wrote: each scoped test filters on this run.
    compiled = project.workdir / "dbt-target" / "compiled" / "bnpl" / "models"
    unique_key_test = next(compiled.rglob("unique_mart_bnpl_transactions_transaction_key.sql"))
    assert second_id in unique_key_test.read_text()
    raw = raw_keys_per_day(project)
    mart = project.per_day(
        "SELECT transaction_date, count(*) FROM marts.mart_bnpl_transactions GROUP BY 1 ORDER BY 1"
    )
    assert mart == raw

    # A replayed old day (re-extracted alone, outside the lookback) is merged again; nothing
    # else is touched but the lookback day, and the day still holds each transaction once.
    project.extract_load("2024-11-26", "2024-11-26", "--full-refresh")
    third = dbt(project, "build", "--vars", LOOKBACK)
    third_id = third["metadata"]["invocation_id"]
    assert days_written_by(project, "mart_bnpl_transactions", third_id) == [
        "2024-11-26",
        WEEK_END,
    ]
    replay_run = project.query(
        "SELECT DISTINCT extraction_run_id FROM marts.mart_bnpl_transactions "
        "WHERE transaction_date = '2024-11-26'"
    )
    assert len(replay_run) == 1
    (staged_run,) = project.query(
        "SELECT DISTINCT extraction_run_id FROM staging.stg_simtom__transactions "
        "WHERE transaction_date = '2024-11-26'"
    )
    assert staged_run == replay_run[0]
    assert raw_keys_per_day(project) == raw
    assert (
        project.per_day(
            "SELECT transaction_date, count(*) FROM marts.mart_bnpl_transactions "
            "GROUP BY 1 ORDER BY 1"
        )
        == raw
    )
    (unbalanced,) = project.query(
        "SELECT count(*) FROM marts.mart_bnpl_reconciliation WHERE NOT is_balanced"
    )[0]
    assert unbalanced == 0

    # Three incremental runs, a replay among them, leave exactly what a full rebuild builds.
    incremental_contents = mart_contents(project)
    full = dbt(project, "build", "--full-refresh", "--vars", LOOKBACK)
    assert {result["status"] for result in full["results"]} <= {"success", "pass"}
    assert_same_contents(incremental_contents, mart_contents(project))
