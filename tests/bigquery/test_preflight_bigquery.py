"""A wrong BigQuery configuration: one line naming the problem, and nothing written.

`load-check:preflight` (`bnpl-load-check --preflight`, plugins/load_check/) is the first step of the
BigQuery jobs. Against the local BigQuery emulator (only the BigQuery service is
emulated; the hook in emulator_hook/ points the Google client at it):

- the check itself on each kind of bad id, a dataset in another location, and the two
  good cases (the dataset exists in the job's location; it does not exist yet);
- `meltano run daily-bigquery` with a malformed dataset id, and with the raw dataset
  already in another location: the job fails with exactly one line naming the problem,
  before the tap asks the API for anything, with no table written and no state saved.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from reliability.results_file import write_results
from simtom_local import SimtomServer

from conftest import ROOT

from .conftest import BigQueryProject

pytestmark = [pytest.mark.bigquery]

STATE_ID = "prod:tap-simtom-bnpl-to-target-bigquery"
# The job cases' rows for docs/reliability.md (tests/reliability/report.py merges them).
RESULTS_PATH = Path(
    os.environ.get(
        "BNPL_RELIABILITY_BIGQUERY_RESULTS", ROOT / "output" / "reliability" / "bigquery.json"
    )
)
START, END = "2024-11-25", "2024-11-26"
# The utility's console script, as `meltano run` starts it.
LOAD_CHECK = ROOT / ".meltano" / "utilities" / "load-check" / "venv" / "bin" / "bnpl-load-check"


def preflight(project: BigQueryProject, **env: str) -> subprocess.CompletedProcess[str]:
    if not LOAD_CHECK.is_file():
        pytest.fail(f"{LOAD_CHECK} missing: install the load-check utility first (make install)")
    return subprocess.run(
        [str(LOAD_CHECK), "--warehouse", "bigquery", "--preflight"],
        env=project.env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def datasets(project: BigQueryProject) -> list[str]:
    listing = project.bq._call("GET", "datasets")
    return sorted(d["datasetReference"]["datasetId"] for d in listing.get("datasets") or [])


def create_dataset(project: BigQueryProject, dataset: str, location: str) -> None:
    project.bq._call(
        "POST",
        "datasets",
        {
            "datasetReference": {"projectId": project.gcp_project, "datasetId": dataset},
            "location": location,
        },
    )


BAD_IDS = {
    "malformed dataset id": (
        {"TARGET_BIGQUERY_DATASET": "bnpl-raw"},
        "dataset: expected a BigQuery dataset id (letters, digits and underscores only, "
        "at most 1024), got 'bnpl-raw'",
    ),
    "malformed project id": (
        {"BNPL_GCP_PROJECT": "My_Project"},
        "project: expected a GCP project id (6-30 lowercase letters, digits and hyphens, "
        "starting with a letter), got 'My_Project'",
    ),
    "unknown location": (
        {"BNPL_BQ_LOCATION": "moon-base"},
        "location: expected a BigQuery location such as US, EU or europe-west2, got 'moon-base'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_IDS))
def test_preflight_refuses_a_malformed_id_in_one_line(
    case: str, bq_project: BigQueryProject
) -> None:
    env, message = BAD_IDS[case]
    checked = preflight(bq_project, **env)
    assert checked.returncode == 1
    assert checked.stderr == f"load-check: preflight: {message}\n"
    assert checked.stdout == ""
    assert datasets(bq_project) == []


def test_preflight_checks_the_dataset_location(bq_project: BigQueryProject) -> None:
    fresh = preflight(bq_project)
    assert (fresh.returncode, fresh.stderr) == (0, "")
    assert "bnpl_raw does not exist yet; the loader will create it in US" in fresh.stdout
    assert datasets(bq_project) == []  # the check only reads

    create_dataset(bq_project, "bnpl_raw", "EU")
    elsewhere = preflight(bq_project)
    assert elsewhere.returncode == 1
    assert elsewhere.stderr == (
        f"load-check: preflight: dataset: {bq_project.gcp_project}.bnpl_raw is in location EU, "
        "but the job loads in US (set BNPL_BQ_LOCATION=EU or use another dataset)\n"
    )
    there = preflight(bq_project, BNPL_BQ_LOCATION="EU")
    assert (there.returncode, there.stderr) == (0, "")
    assert "bnpl_raw exists in EU" in there.stdout


JOB_CASES = {
    "malformed BigQuery dataset id": (
        {"TARGET_BIGQUERY_DATASET": "bnpl-raw"},
        None,
        "dataset: expected a BigQuery dataset id",
    ),
    "BigQuery raw dataset in another location": (
        {},
        "EU",
        "is in location EU, but the job loads in US",
    ),
}


@pytest.fixture(scope="module")
def results() -> Iterator[list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    yield rows
    if rows:
        document = {"generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows}
        write_results(RESULTS_PATH, document)


@pytest.mark.job
@pytest.mark.slow
@pytest.mark.parametrize("case", list(JOB_CASES))
def test_daily_bigquery_job_stops_before_the_tap_and_writes_nothing(
    case: str,
    bq_project: BigQueryProject,
    simtom_server: SimtomServer,
    results: list[dict[str, Any]],
) -> None:
    env, existing_location, message = JOB_CASES[case]
    if existing_location:
        create_dataset(bq_project, "bnpl_raw", existing_location)
    before = datasets(bq_project)
    requests_before = len(simtom_server.requests)

    run = bq_project.run_job("daily-bigquery", START, END, **env)

    naming = [line for line in run.output.splitlines() if message in line]
    asked_api = len(simtom_server.requests) - requests_before
    after = datasets(bq_project)
    tables = bq_project.bq.tables("bnpl_raw") if existing_location else []
    listed = bq_project.meltano("state", "list", "--pattern", "*")
    nothing_written = after == before and tables == [] and STATE_ID not in listed.output
    results.append(
        {
            "test": f"tests/bigquery/test_preflight_bigquery.py[{case}]",
            "fault": f"bad configuration: {case} (daily-bigquery on the BigQuery emulator)",
            "injected": 1,
            "runs": 1,
            "job_exit_code": run.returncode,
            "rows_lost": 0 if nothing_written else None,
            "rows_duplicated": 0 if nothing_written else None,
            "nothing_written": nothing_written,
            "api_requests": asked_api,
            "error_line": naming[0].split("load-check: ", 1)[-1] if naming else None,
            "outcome": "passed"
            if run.returncode != 0 and len(naming) == 1 and nothing_written and not asked_api
            else "failed",
        }
    )

    assert run.returncode != 0, run.tail()
    assert len(naming) == 1, run.tail()
    assert "Traceback" not in run.output, run.tail()
    # Nothing ran after the check: no request to the API, no table, no state.
    assert asked_api == 0
    assert after == before
    assert tables == []
    assert listed.returncode == 0 and STATE_ID not in listed.output, listed.tail()
