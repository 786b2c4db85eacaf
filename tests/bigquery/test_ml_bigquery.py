"""`ml:train` in the prod environment: the training set read from BigQuery, the runs
appended to bnpl_ml.model_runs, against the local BigQuery emulator.

The training set is the ML utility's own generated one (plugins/ml/tests/datagen.py, a
planted signal), loaded into bnpl_marts with the utility's venv (the one holding the Google
client); the column roles come from a manifest written the same way.
"""

from __future__ import annotations

import subprocess

import pytest

from conftest import ROOT

from .conftest import BigQueryProject

pytestmark = [pytest.mark.bigquery]

ML_PYTHON = ROOT / ".meltano" / "utilities" / "ml" / "venv" / "bin" / "python"
LOAD = """
import sys
sys.path.insert(0, sys.argv[1])
import datagen
from google.cloud import bigquery

project, manifest = sys.argv[2], sys.argv[3]
frame = datagen.training_rows(rows=4000)
datagen.write_training_set_bigquery(
    bigquery.Client(project=project), f"{project}.bnpl_marts.mart_bnpl_ml_training_set", frame
)
datagen.write_manifest(__import__("pathlib").Path(manifest), datagen.manifest())
for split in ("train", "validation", "test"):
    print(split, int((frame.dataset_split == split).sum()))
"""


def test_ml_train_reads_bnpl_marts_and_appends_to_bnpl_ml(
    bq_project: BigQueryProject, tmp_path
) -> None:
    if not ML_PYTHON.is_file():
        pytest.fail(f"{ML_PYTHON} missing: install the ml utility first (make install)")
    manifest = tmp_path / "manifest.json"
    loaded = subprocess.run(
        [str(ML_PYTHON), "-c", LOAD, str(ROOT / "plugins" / "ml" / "tests"),
         bq_project.gcp_project, str(manifest)],
        env=bq_project.env(),
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    sizes = {line.split()[0]: int(line.split()[1]) for line in loaded.stdout.splitlines()}

    run = bq_project.meltano(
        "invoke",
        "ml:train",
        BNPL_ML_MANIFEST_PATH=str(manifest),
        BNPL_ML_OUTPUT_DIR=str(tmp_path / "ml"),
    )
    assert run.returncode == 0, run.tail()
    assert "runs: " in run.output and "bnpl_ml.model_runs (+4 rows)" in run.output

    rows = bq_project.bq.query(
        "SELECT model, train_rows, validation_rows, test_rows, test_roc_auc, "
        "JSON_VALUE(comparison, '$.model') AS compared "
        "FROM bnpl_ml.model_runs ORDER BY model"
    )
    assert [row["model"] for row in rows] == [
        "all_features", "prior", "risk_score_only", "without_label_proxies",
    ]  # fmt: skip
    assert {(r["train_rows"], r["validation_rows"], r["test_rows"]) for r in rows} == {
        (sizes["train"], sizes["validation"], sizes["test"])
    }
    auc = {row["model"]: row["test_roc_auc"] for row in rows}
    assert auc["without_label_proxies"] > auc["risk_score_only"] + 0.1
    assert {row["compared"] for row in rows} == {"without_label_proxies"}
    assert (tmp_path / "ml" / "model_card.html").is_file()
