"""The per-day reconciliation (dbt's int_bnpl_daily_reconciliation) and the gate reading it.

A clean daily job loads and publishes four days, 2024-11-25..28 (the session's shared first
run, conftest.published_daily). Each case then appends to raw what a load would leave
behind on one day (a replay of the day by a new run, whole or damaged, written with SQL so
the damage is exact), and runs the job's dbt build-staging and quality gate on it: the
incremental model recounts the touched days, and the gate passes or fails on what it says.

The reconciliation and the gate judge each day on its own, so the damage cases share their
runs: each damages a day of its own in one of two copies of the published warehouse
(DAMAGED_COPIES, each built once per session with `built_once`), and one dbt build-staging
and gate run per copy reconciles all its days. Each case still checks its own day's
reconciliation row, and that the gate's failed "extracted equals loaded" expectation names
its day. 2024-11-25 stays untouched in both copies and must still balance. The complete
replay, after which the gate must pass, has a copy and a run of its own.
The same raw damage on BigQuery is in tests/bigquery/test_prod_job_bigquery.py.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from conftest import PUBLISHED_END, Project, built_once

pytestmark = [pytest.mark.job, pytest.mark.slow]

# The last published day, the day after it, and a published day no case touches.
DAY, NEW_DAY, UNTOUCHED_DAY = PUBLISHED_END, "2024-11-29", "2024-11-25"
RUN = "replay-run"
COLUMNS = (
    "records_emitted, latest_run_raw_rows, raw_distinct_transaction_keys, staged_rows, "
    "staged_rows_of_latest_run, records_quarantined, latest_run_quarantine_rows, "
    "unlogged_runs, is_balanced"
)
BROKEN = "extracted equals loaded per day"
RECONCILE_EXIT_CODE = "reconcile-exit-code"


def log_replay(project: Project, day: str, **changes: object) -> None:
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


def load_replay(project: Project, day: str, skip_rows: int = 0, times: int = 1) -> None:
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


def complete_replay(project: Project, day: str) -> None:
    log_replay(project, day)
    load_replay(project, day)


def lost_batch(project: Project, day: str) -> None:
    log_replay(project, day)
    load_replay(project, day, skip_rows=5)


def load_applied_twice(project: Project, day: str) -> None:
    log_replay(project, day)
    load_replay(project, day, times=2)


def lost_transactions_load(project: Project, day: str) -> None:
    # The older run's rows of the day are complete: only the latest run's count shows it.
    log_replay(project, day)


def lost_quarantine_rows(project: Project, day: str) -> None:
    log_replay(project, day, records_quarantined=1, records_received="records_received + 1")
    load_replay(project, day)


def lost_extraction_log_load(project: Project, day: str) -> None:
    # Staging serves the newer run's rows; no extraction_log row says what it emitted.
    load_replay(project, day)


def day_without_any_log_row(project: Project, day: str) -> None:
    """The published rows of the day before, moved to `day` by a run no extraction_log row
    names."""
    before = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    project.execute(
        "INSERT INTO raw.transactions SELECT * REPLACE ("
        f"'{RUN}' AS extraction_run_id, ?::DATE AS transaction_date, "
        "replace(transaction_key, replace(?, '-', ''), replace(?, '-', '')) AS transaction_key, "
        "_timestamp + INTERVAL 1 DAY AS _timestamp, now()::TIMESTAMP AS _sdc_batched_at) "
        "FROM raw.transactions WHERE transaction_date = ? AND extraction_run_id <> ?",
        [day, before, day, before, RUN],
    )


@dataclass(frozen=True)
class Damage:
    """A damage to one day of raw in one of the shared damaged copies, and what the day's
    reconciliation row must then say: (latest run's raw rows, its staged rows, quarantined
    lines, unlogged runs) as a function of what the day's latest extraction emitted."""

    damage: Callable[[Project, str], None]
    day: str
    copy: int
    expected: Callable[[int], tuple[int, int, int, int]] | None = None

    @property
    def name(self) -> str:
        return self.damage.__name__


# Four published days, one of them untouched in each copy: two copies for five damaged
# published days; the day no extraction_log row names is a new one.
DAMAGED_LOADS = (
    Damage(lost_batch, "2024-11-26", 0, lambda n: (n - 5, n - 5, 0, 0)),
    Damage(load_applied_twice, "2024-11-27", 0, lambda n: (2 * n, n, 0, 0)),
    Damage(lost_transactions_load, "2024-11-28", 0, lambda n: (0, 0, 0, 0)),
    Damage(lost_quarantine_rows, "2024-11-26", 1, lambda n: (n, n, 0, 0)),
    Damage(lost_extraction_log_load, "2024-11-27", 1, lambda n: (n, 0, 0, 1)),
)
UNLOGGED_DAY = Damage(day_without_any_log_row, NEW_DAY, 1)
DAMAGED_COPIES = tuple(
    tuple(case for case in (*DAMAGED_LOADS, UNLOGGED_DAY) if case.copy == copy) for copy in (0, 1)
)


@dataclass(frozen=True)
class Reconciled:
    """What one dbt build-staging + gate run left: its exit code, the reconciliation rows by
    day, the gate's failed critical expectations of its last run, and the days the failed
    "extracted equals loaded" expectation names."""

    code: int
    days: dict[str, tuple]
    failures: set[str]
    unbalanced_days: set[str]
    log: Path


def run_reconcile(project: Project) -> None:
    """dbt build-staging and the gate, as the job runs them; the exit code is kept beside."""
    run = project.meltano("run", "dbt-duckdb:build-staging", "quality:gate")
    (project.workdir / RECONCILE_EXIT_CODE).write_text(str(run.returncode))


def reconciled(project: Project) -> Reconciled:
    """What the last run_reconcile in PROJECT left."""
    rows = project.query(
        f"SELECT reconciliation_date::VARCHAR, {COLUMNS} "
        "FROM intermediate.int_bnpl_daily_reconciliation ORDER BY 1"
    )
    failures = project.query(
        "SELECT description, observed_value FROM quality.gate_results WHERE NOT success "
        "AND severity = 'critical' AND run_id = "
        "(SELECT run_id FROM quality.gate_runs ORDER BY run_time DESC LIMIT 1)"
    )
    # The gate keeps up to 10 example rows of a failed expectation (bnpl_quality's
    # EXAMPLE_LIMIT); a damaged copy has three unbalanced days.
    named = [
        json.loads(observed).get("examples", [])
        for description, observed in failures
        if description.startswith(BROKEN)
    ]
    return Reconciled(
        code=int((project.workdir / RECONCILE_EXIT_CODE).read_text()),
        days={row[0]: row[1:] for row in rows},
        failures={description.split(" (")[0] for description, _ in failures},
        unbalanced_days={str(example["day"])[:10] for examples in named for example in examples},
        log=max(project.workdir.glob("meltano-*.log")),
    )


@pytest.fixture(scope="session")
def damaged(
    tmp_path_factory: pytest.TempPathFactory, published_daily: Project
) -> Callable[[int], Reconciled]:
    """reconciled of DAMAGED_COPIES[copy]: published_daily, its cases' damages, one
    reconcile run. Each copy is built once per session, when a test first needs it."""
    seen: dict[int, Reconciled] = {}

    def damage_and_reconcile(copy: int) -> Reconciled:
        def build(project: Project) -> None:
            for case in DAMAGED_COPIES[copy]:
                case.damage(project, case.day)
            run_reconcile(project)

        if copy not in seen:
            name = f"reconciliation-damaged-{copy}"
            seen[copy] = reconciled(
                built_once(tmp_path_factory, name, build, source=published_daily)
            )
        return seen[copy]

    return damage_and_reconcile


@pytest.fixture
def project(published_daily: Project, tmp_path: Path) -> Project:
    """A copy of the published warehouse of this test's own."""
    copy = Project(workdir=tmp_path, api_url="http://127.0.0.1:1/not-extracting")
    shutil.copy(published_daily.duckdb_path, copy.duckdb_path)
    return copy


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
    complete_replay(project, DAY)
    run_reconcile(project)
    result = reconciled(project)
    assert (result.code, result.failures) == (0, set()), result.log
    emitted = result.days[DAY][0]
    assert result.days[DAY] == (emitted, emitted, emitted, emitted, emitted, 0, 0, 0, True)


@pytest.mark.parametrize("case", DAMAGED_LOADS, ids=lambda case: case.name)
def test_a_damaged_load_fails_the_gate(damaged: Callable[[int], Reconciled], case: Damage) -> None:
    result = damaged(case.copy)
    assert result.code != 0 and BROKEN in result.failures, (result.code, result.failures)
    assert case.day in result.unbalanced_days, (result.unbalanced_days, result.log)
    emitted, latest_run_rows, _, _, staged_of_latest, _, quarantine_rows, unlogged, balanced = (
        result.days[case.day]
    )
    assert balanced is False
    assert case.expected is not None
    assert (latest_run_rows, staged_of_latest, quarantine_rows, unlogged) == case.expected(emitted)
    assert result.days[UNTOUCHED_DAY][-1] is True


def test_rows_of_a_day_no_extraction_log_row_names_fail_the_gate(
    damaged: Callable[[int], Reconciled],
) -> None:
    result = damaged(UNLOGGED_DAY.copy)
    assert result.code != 0 and BROKEN in result.failures, (result.code, result.failures)
    assert NEW_DAY in result.unbalanced_days, (result.unbalanced_days, result.log)
    assert result.days[NEW_DAY][0] is None and result.days[NEW_DAY][-2:] == (1, False)
