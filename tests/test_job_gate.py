"""The daily job fails when the quality gate fails, and then publishes nothing to the marts.

A job writes, audits, then publishes: dbt builds staging and intermediate, the gate checks
the new days there, and only then does dbt build the marts. Bad data is injected through the
real job: the tap's stream maps (a standard Singer SDK setting) drop one day from the
transactions and the extraction log, as a source that silently skipped a day would. Every
dbt test still passes on what was loaded; only the gate, which checks the days since the
last load for gaps, can notice.
"""

from __future__ import annotations

import json

import pytest

from conftest import BAD_RUN_END, MART_MODELS, PUBLISHED_END, SKIPPED_DAY, Project, days_between

pytestmark = [pytest.mark.job, pytest.mark.slow]

# The session's shared runs (conftest): published_daily, a clean daily run up to
# PUBLISHED_END; then gate_failed, the next daily run to BAD_RUN_END with SKIPPED_DAY dropped
# by the tap's stream maps (conftest.SKIP_A_DAY). gate_failed's build asserts that run
# exited non-zero.
FIRST_DAYS = days_between("2024-11-25", PUBLISHED_END)


def test_daily_job_exits_non_zero_when_the_gate_fails(after_failed_gate: Project) -> None:
    project = after_failed_gate
    # The day is really missing, and dbt built and tested staging from what was loaded: the
    # failure is the gate's, not dbt's.
    days = project.raw_transactions_per_day()
    assert SKIPPED_DAY not in days and BAD_RUN_END in days
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
    assert (first_day, last_day) == (SKIPPED_DAY, BAD_RUN_END)
    failures = project.query(
        "SELECT suite, description FROM quality.gate_results "
        "WHERE run_id = ? AND NOT success AND severity = 'critical'",
        [failed_run_id],
    )
    assert any("missing day" in description for _, description in failures), failures


def days_in(project: Project, table: str, column: str) -> list[str]:
    rows = project.query(f"SELECT DISTINCT {column}::VARCHAR FROM {table} ORDER BY 1")
    return [day for (day,) in rows]


# The marts whose days are easy to state: transaction, day and reconciliation grain.
DAY_MARTS = {
    "mart_bnpl_transactions": "transaction_date",
    "mart_bnpl_daily_kpis": "transaction_date",
    "mart_bnpl_reconciliation": "reconciliation_date",
}


def published_days(project: Project) -> dict[str, list[str]]:
    """{mart: the days it holds} for DAY_MARTS."""
    return {mart: days_in(project, f"marts.{mart}", column) for mart, column in DAY_MARTS.items()}


def staged_days(project: Project) -> list[str]:
    return days_in(project, "staging.stg_simtom__transactions", "transaction_date")


def test_a_failing_gate_leaves_the_marts_as_they_were(
    published_daily: Project, after_failed_gate: Project
) -> None:
    # A passing run publishes its days to the marts (read only: the project is shared).
    assert staged_days(published_daily) == FIRST_DAYS
    assert published_days(published_daily) == dict.fromkeys(DAY_MARTS, FIRST_DAYS)
    before = published_daily.marts_snapshot()
    assert sorted(before) == MART_MODELS, sorted(before)
    assert all(before.values()), {k: len(v) for k, v in before.items()}

    # The next run's gate failed (gate_failed's build asserts its exit code).
    project = after_failed_gate
    assert [ok for (ok,) in project.query("SELECT success FROM quality.gate_runs")] == [
        True,
        False,
    ]

    # Staging got the new day, so the gate had it to check; the marts did not change at all.
    assert staged_days(project) == [*FIRST_DAYS, BAD_RUN_END]
    after = project.marts_snapshot()
    assert sorted(after) == sorted(before)
    for table, rows in before.items():
        assert after[table] == rows, f"marts.{table} changed although the gate failed"

    # Once the missing day is extracted again, the next passing run publishes the days the
    # gate held back together with its own.
    project.extract_load(SKIPPED_DAY, SKIPPED_DAY, "--full-refresh", "--no-state-update")
    fixed = project.run_job("daily", None, "2024-12-01")
    assert fixed.returncode == 0, fixed.tail()
    all_days = [*FIRST_DAYS, SKIPPED_DAY, BAD_RUN_END, "2024-12-01"]
    assert staged_days(project) == all_days
    assert published_days(project) == dict.fromkeys(DAY_MARTS, all_days)
