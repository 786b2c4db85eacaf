"""Bad configuration: one line naming the problem, and nothing written.

Each case starts from a copy of the clean run's warehouse and Meltano state (so there is
something to lose), asks for two more days, and runs the daily job with one bad setting.
The job must fail; its output must hold exactly one error line naming the setting and what
was expected (Meltano adds its own "Extractor failed"), and no traceback; dbt and the gate
must not run; the DuckDB file and the stored state must be byte for byte what they were.

A wrong BigQuery dataset, project id or location is refused by the BigQuery jobs'
pre-flight step (`load-check:preflight`), tested on the local BigQuery emulator in
tests/bigquery/test_preflight_bigquery.py; its rows join this table in docs/reliability.md.
"""

from __future__ import annotations

import shutil
import socket
from datetime import date, timedelta

import pytest

from .conftest import CleanReference
from .harness import (
    END,
    file_digest,
    isolated_project,
    job_command,
    run_job,
    stored_state,
)

pytestmark = [pytest.mark.job, pytest.mark.slow, pytest.mark.reliability]

# Two days after the clean run's bookmark: there is work to do.
NEXT_END = (date.fromisoformat(END) + timedelta(days=2)).isoformat()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CASES = {
    "unparseable start_date": (
        {"TAP_SIMTOM_BNPL_START_DATE": "2024-11-31"},
        "start_date: expected a date YYYY-MM-DD, got '2024-11-31'",
    ),
    # Meltano once read this as 2024-01-13 and the tap extracted 319 days from there.
    "month 13 in start_date": (
        {"TAP_SIMTOM_BNPL_START_DATE": "2024-13-01"},
        "start_date: expected a date YYYY-MM-DD, got '2024-13-01'",
    ),
    "end_date before start_date": (
        {"TAP_SIMTOM_BNPL_START_DATE": "2024-12-06", "TAP_SIMTOM_BNPL_END_DATE": "2024-11-25"},
        "end_date: 2024-11-25 is before start_date 2024-12-06",
    ),
    # The API takes at most 365 days per request; longer ranges are split by the tap, so
    # the setting that can exceed the limit is the window.
    "window over the API's 365 days": (
        {"TAP_SIMTOM_BNPL_WINDOW_DAYS": "400"},
        "window_days: expected an integer from 1 to 365, got 400",
    ),
    "negative volume": (
        {"TAP_SIMTOM_BNPL_BASE_DAILY_VOLUME": "-5"},
        "base_daily_volume: expected an integer >= 1, got -5",
    ),
    "unreachable API": (
        {
            "TAP_SIMTOM_BNPL_API_URL": "http://127.0.0.1:{port}",
            "TAP_SIMTOM_BNPL_MAX_RETRIES": "1",
            "TAP_SIMTOM_BNPL_RETRY_BACKOFF_SECONDS": "1",
        },
        "failed to connect",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_configuration_names_the_problem_and_writes_nothing(
    case: str, tmp_path, api_key: str, clean_reference: CleanReference, record
) -> None:
    overrides, message = CASES[case]
    overrides = {k: v.format(port=closed_port()) for k, v in overrides.items()}
    for name in ("bnpl.duckdb", "meltano.db"):
        shutil.copy2(clean_reference.project.workdir / name, tmp_path / name)
    project = isolated_project(
        tmp_path,
        clean_reference.project.api_url,
        api_key,
        TAP_SIMTOM_BNPL_END_DATE=NEXT_END,
    )
    digest, state = file_digest(project.duckdb_path), stored_state(project)

    run = run_job(project, "run-bad-config", job_command(), **overrides)

    # The tap's error line; earlier warnings (a retried connection) may say the same.
    naming = [line for line in run.output.splitlines() if message in line and "[error" in line]
    unchanged = file_digest(project.duckdb_path) == digest and stored_state(project) == state
    record(
        fault=f"bad configuration: {case}",
        injected=1,
        runs=1,
        job_exit_code=run.proc.returncode,
        rows_lost=0 if unchanged else None,
        rows_duplicated=0 if unchanged else None,
        nothing_written=unchanged,
        error_line=naming[0].split("|")[-1].strip()[:300] if naming else None,
    )
    assert run.proc.returncode != 0
    assert len(naming) == 1, run.output[-3000:]
    assert "Traceback" not in run.output, run.output[-3000:]
    assert "dbt-duckdb" not in run.output and "] quality" not in run.output
    assert file_digest(project.duckdb_path) == digest, "the DuckDB file changed"
    assert stored_state(project) == state, "the stored state changed"
    assert not project.duckdb_path.with_suffix(".duckdb.wal").exists()
