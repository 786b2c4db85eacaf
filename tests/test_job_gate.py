"""The daily job fails when the quality gate fails, after dbt has built the day.

Bad data is injected through the real job: the tap's stream maps (a standard Singer SDK
setting) drop one day from the transactions and the extraction log, as a source that
silently skipped a day would. Every dbt test still passes on what was loaded; only the
gate, which checks the days since the last load for gaps, can notice.
"""

from __future__ import annotations

import json

import pytest

from conftest import Project

pytestmark = [pytest.mark.job, pytest.mark.slow]

SKIPPED_DAY = "2024-11-27"
SKIP_A_DAY = {
    "transactions": {"__filter__": f"transaction_date != '{SKIPPED_DAY}'"},
    "extraction_log": {"__filter__": f"extraction_date != '{SKIPPED_DAY}'"},
}


def test_daily_job_exits_non_zero_when_the_gate_fails(project: Project) -> None:
    clean = project.run_job("daily", None, "2024-11-26")
    assert clean.returncode == 0, clean.tail()

    bad = project.run_job(
        "daily", None, "2024-11-28", TAP_SIMTOM_BNPL_STREAM_MAPS=json.dumps(SKIP_A_DAY)
    )
    assert bad.returncode != 0, bad.tail()

    # The day is really missing, and dbt built and tested what was loaded: the failure is
    # the gate's, not dbt's.
    days = project.raw_transactions_per_day()
    assert SKIPPED_DAY not in days and "2024-11-28" in days
    results_file = project.workdir / "dbt-target" / "run_results.json"
    dbt_results = json.loads(results_file.read_text())["results"]
    assert dbt_results, "dbt did not run"
    assert {result["status"] for result in dbt_results} <= {"success", "pass"}, [
        (result["unique_id"], result["status"])
        for result in dbt_results
        if result["status"] not in ("success", "pass")
    ]

    # The failed gate run and its results are kept, naming the missing day's expectation.
    runs = project.query(
        "SELECT run_id, success, critical_failures, first_checked_day::VARCHAR, "
        "last_checked_day::VARCHAR FROM quality.gate_runs ORDER BY run_time"
    )
    assert [run[1] for run in runs] == [True, False]
    failed_run_id, _, critical, first_day, last_day = runs[-1]
    assert critical >= 1
    assert (first_day, last_day) == (SKIPPED_DAY, "2024-11-28")
    failures = project.query(
        "SELECT suite, description FROM quality.gate_results "
        "WHERE run_id = ? AND NOT success AND severity = 'critical'",
        [failed_run_id],
    )
    assert any("missing day" in description for _, description in failures), failures
