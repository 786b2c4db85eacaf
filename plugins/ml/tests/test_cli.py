"""`bnpl-ml train` end to end on a DuckDB file: rows appended, model card written, errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import datagen
import duckdb
import pytest
from bnpl_ml.cli import main


def cli_args(config) -> list[str]:
    return [
        "train",
        "--duckdb-path", str(config.duckdb_path),
        "--manifest", str(config.manifest_path),
        "--output-dir", str(config.output_dir),
    ]  # fmt: skip


def test_a_run_appends_its_rows_and_writes_the_model_card(make_config, capsys) -> None:
    config = make_config()
    assert main(cli_args(config)) == 0
    assert main(cli_args(config)) == 0
    out = capsys.readouterr().out
    assert "without_label_proxies" in out and "model card:" in out

    with duckdb.connect(str(config.duckdb_path), read_only=True) as connection:
        rows = connection.execute(
            "SELECT run_id, model, first_date, last_date, train_rows, validation_rows, test_rows, "
            "test_roc_auc, test_metrics, feature_importances, comparison, model_card_path "
            "FROM ml.model_runs ORDER BY started_at, model"
        ).fetchall()
    assert len(rows) == 8
    assert len({row[0] for row in rows}) == 2
    assert sorted(row[1] for row in rows[:4]) == [
        "all_features", "prior", "risk_score_only", "without_label_proxies",
    ]  # fmt: skip
    frame = datagen.training_rows()
    first = rows[0]
    assert (str(first[2]), str(first[3])) == ("2024-11-01", "2024-11-30")
    assert first[4:7] == tuple(
        int((frame.dataset_split == s).sum()) for s in ("train", "validation", "test")
    )
    boosted = next(row for row in rows if row[1] == "without_label_proxies")
    assert json.loads(boosted[8])["roc_auc"] == boosted[7]
    assert json.loads(boosted[9])[0]["feature"] in {"signal_feature", "segment"}
    assert json.loads(boosted[10])["model"] == "without_label_proxies"

    card = (config.output_dir / "model_card.html").read_text(encoding="utf-8")
    copies = sorted(config.output_dir.glob("model_card_*.html"))
    assert len(copies) == 2 and str(copies[-1]) in {row[11] for row in rows}
    assert card == copies[-1].read_text(encoding="utf-8")
    # ROC, PR, calibration and one importance chart per boosted model.
    assert len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]{500,}"', card)) == 5
    assert f"{boosted[7]:.3f}" in card
    assert "risk_scenario" in card and "request window" in card and "mature" in card


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no table", r"training set: no table marts\.mart_bnpl_ml_training_set in "),
        (
            "empty test",
            r"split test: no rows in marts\.mart_bnpl_ml_training_set with dataset_split = 'test'",
        ),
        ("one class", r"split validation: every row has will_default = False"),
        ("no role", r"column segment of mart_bnpl_ml_training_set: no meta\.ml_role"),
        ("no baseline", r"baseline_score_column: risk_score is not a column"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(make_config, capsys, change: str, message: str) -> None:
    frame = datagen.training_rows(rows=3000)
    roles = dict(datagen.ROLES)
    if change == "empty test":
        frame.loc[frame.dataset_split == "test", "dataset_split"] = "immature"
    if change == "one class":
        frame.loc[frame.dataset_split == "validation", "will_default"] = False
    if change == "no role":
        roles["segment"] = None
    if change == "no baseline":
        frame = frame.drop(columns="risk_score")
        del roles["risk_score"]
    config = make_config(frame=frame, manifest=datagen.manifest(roles))
    if change == "no table":
        with duckdb.connect(str(config.duckdb_path)) as connection:
            connection.execute(f"DROP TABLE {datagen.TABLE}")
    assert main(cli_args(config)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert re.search(message, captured.err)
    assert not config.output_dir.exists()


def test_rows_of_other_split_values_are_left_out_and_counted(make_config) -> None:
    from bnpl_ml.run import train

    frame = datagen.training_rows()
    immature = frame.index[-500:]
    frame.loc[immature, "dataset_split"] = "immature"
    run = train(make_config(frame=frame))
    assert run["ignored_splits"] == {"immature": 500}
    assert sum(split["rows"] for split in run["splits"].values()) == len(frame) - 500


def test_the_console_script_reads_its_settings_from_the_environment(make_config, tmp_path) -> None:
    config = make_config(frame=datagen.training_rows(rows=3000))
    env = {
        "BNPL_DUCKDB_PATH": str(config.duckdb_path),
        "BNPL_ML_MANIFEST_PATH": str(tmp_path / "missing.json"),
        "PATH": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bnpl_ml", "train"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"bnpl-ml: manifest_path: {tmp_path / 'missing.json'} does not exist (expected dbt's "
        "manifest.json, written by `dbt parse` or any dbt build; set BNPL_ML_MANIFEST_PATH)"
    )
