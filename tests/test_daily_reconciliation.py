"""The per-day reconciliation (dbt's int_bnpl_daily_reconciliation) and the gate reading it.

A clean daily job loads and publishes four days (the session's shared first run,
conftest.published_daily). Each case then appends to raw what a load
would leave behind (a replay of a day by a new run, whole or damaged, written with SQL so
the damage is exact), and runs the job's dbt build-staging and quality gate on it: the
incremental model recounts the touched day, and the gate passes or fails on what it says.
The same raw damage on BigQuery is in tests/bigquery/test_prod_job_bigquery.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import PUBLISHED_END, Project

pytestmark = [pytest.mark.job, pytest.mark.slow]

# The last published day, and the day after it.
DAY, NEW_DAY = PUBLISHED_END, "2024-11-29"
RUN = "replay-run"
COLUMNS = (
    "records_emitted, latest_run_raw_rows, raw_distinct_transaction_keys, staged_rows, "
    "staged_rows_of_latest_run, records_quarantined, latest_run_quarantine_rows, "
    "unlogged_runs, is_balanced"
)


def log_replay(project: Project, day: str = DAY, **changes: object) -> None:
    """The day's extraction_log row again, for a newer run (requested and finished later)."""
    sets = ", ".join(f"{value} AS {column}" for column, value in changes.items())
    project.execute(
        "INSERT INTO raw.extraction_log SELECT * REPLACE ("
        f"'{RUN}:{day}' AS extraction_key, '{RUN}' AS extraction_run_id, "
        "requested_at + INTERVAL 1 DAY AS requested_at, finished_at + INTERVAL 1 DAY AS "
        "finished_at, now()::TIMESTAMP AS _sdc_batched_at"
        f"{', ' + sets if sets else ''}) FROM raw.extraction_log WHERE extraction_date = ?",
        [day],
    )


def load_replay(project: Project, day: str = DAY, skip_rows: int = 0, times: int = 1) -> None:
    """The day's transactions again, for the newer run: `skip_rows` lost, loaded `times`."""
    for _ in range(times):
        project.execute(
            "INSERT INTO raw.transactions SELECT * REPLACE ("
            f"'{RUN}' AS extraction_run_id, requested_at + INTERVAL 1 DAY AS requested_at, "
            "now()::TIMESTAMP AS _sdc_batched_at) FROM raw.transactions "
            "WHERE transaction_date = ? AND extraction_run_id <> ? "
            "ORDER BY transaction_key OFFSET ?",
            [day, RUN, skip_rows],
        )


def complete_replay(project: Project) -> None:
    log_replay(project)
    load_replay(project)


def lost_batch(project: Project) -> None:
    log_replay(project)
    load_replay(project, skip_rows=5)


def load_applied_twice(project: Project) -> None:
    log_replay(project)
    load_replay(project, times=2)


def lost_transactions_load(project: Project) -> None:
    # The older run's rows of the day are complete: only the latest run's count shows it.
    log_replay(project)


def lost_quarantine_rows(project: Project) -> None:
    log_replay(project, records_quarantined=1, records_received="records_received + 1")
    load_replay(project)


def lost_extraction_log_load(project: Project) -> None:
    # Staging serves the newer run's rows; no extraction_log row says what it emitted.
    load_replay(project)


def day_without_any_log_row(project: Project) -> None:
    project.execute(
        "INSERT INTO raw.transactions SELECT * REPLACE ("
        f"'{RUN}' AS extraction_run_id, ?::DATE AS transaction_date, "
        "replace(transaction_key, replace(?, '-', ''), replace(?, '-', '')) AS transaction_key, "
        "_timestamp + INTERVAL 1 DAY AS _timestamp, now()::TIMESTAMP AS _sdc_batched_at) "
        "FROM raw.transactions WHERE transaction_date = ?",
        [NEW_DAY, DAY, NEW_DAY, DAY],
    )


@pytest.fixture
def project(published_daily: Project, tmp_path: Path) -> Project:
    """A copy of the published warehouse, so each case starts from the same days."""
    copy = Project(workdir=tmp_path, api_url="http://127.0.0.1:1/not-extracting")
    shutil.copy(published_daily.duckdb_path, copy.duckdb_path)
    return copy


def reconcile(project: Project) -> tuple[int, dict[str, tuple], set[str]]:
    """dbt build-staging and the gate, as the job runs them: exit code, reconciliation rows
    by day, and the gate's failed critical expectations of its last run."""
    run = project.meltano("run", "dbt-duckdb:build-staging", "quality:gate")
    rows = project.query(
        f"SELECT reconciliation_date::VARCHAR, {COLUMNS} "
        "FROM intermediate.int_bnpl_daily_reconciliation ORDER BY 1"
    )
    failures = project.query(
        "SELECT description FROM quality.gate_results WHERE NOT success "
        "AND severity = 'critical' AND run_id = "
        "(SELECT run_id FROM quality.gate_runs ORDER BY run_time DESC LIMIT 1)"
    )
    return (
        run.returncode,
        {row[0]: row[1:] for row in rows},
        {description.split(" (")[0] for (description,) in failures},
    )


def test_the_published_days_balance(published_daily: Project) -> None:
    rows = published_daily.query(
        f"SELECT {COLUMNS} FROM intermediate.int_bnpl_daily_reconciliation ORDER BY 1"
    )
    assert len(rows) == 4
    for emitted, *counts, quarantined, quarantine_rows, unlogged, balanced in rows:
        assert emitted > 0 and counts == [emitted] * 4, rows
        assert (quarantined, quarantine_rows, unlogged, balanced) == (0, 0, 0, True)
    mart = published_daily.query("SELECT bool_and(is_balanced) FROM marts.mart_bnpl_reconciliation")
    assert mart == [(True,)]


def test_a_complete_replay_balances(project: Project) -> None:
    # The appending loader keeps the older run's rows beside the new ones: still balanced.
    complete_replay(project)
    code, days, failures = reconcile(project)
    assert (code, failures) == (0, set())
    emitted = days[DAY][0]
    assert days[DAY] == (emitted, emitted, emitted, emitted, emitted, 0, 0, 0, True)


BROKEN = "extracted equals loaded per day"


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        # (latest run's raw rows, its staged rows, quarantined lines, unlogged runs) as
        # functions of what the day's latest extraction emitted.
        (lost_batch, lambda n: (n - 5, n - 5, 0, 0)),
        (load_applied_twice, lambda n: (2 * n, n, 0, 0)),
        (lost_transactions_load, lambda n: (0, 0, 0, 0)),
        (lost_quarantine_rows, lambda n: (n, n, 0, 0)),
        (lost_extraction_log_load, lambda n: (n, 0, 0, 1)),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_damaged_load_fails_the_gate(
    project: Project,
    damage: Callable[[Project], None],
    expected: Callable[[int], tuple[int, int, int, int]],
) -> None:
    damage(project)
    code, days, failures = reconcile(project)
    assert code != 0 and BROKEN in failures, (code, failures)
    emitted, latest_run_rows, _, _, staged_of_latest, _, quarantine_rows, unlogged, balanced = days[
        DAY
    ]
    assert balanced is False
    assert (latest_run_rows, staged_of_latest, quarantine_rows, unlogged) == expected(emitted)
    assert days["2024-11-25"][-1] is True


def test_rows_of_a_day_no_extraction_log_row_names_fail_the_gate(project: Project) -> None:
    day_without_any_log_row(project)
    code, days, failures = reconcile(project)
    assert code != 0 and BROKEN in failures, (code, failures)
    assert days[NEW_DAY][0] is None and days[NEW_DAY][-2:] == (1, False)
