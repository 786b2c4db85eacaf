"""The daily job end to end: `meltano run daily` = tap, DuckDB loader, dbt build of staging,
quality gate, dbt build of the marts.

The real job in the dev environment against the local simtom-compatible server on a free
loopback port, into a fresh DuckDB file, with a small daily volume: the session's shared
first run (conftest.published_daily), which other tests continue from; this test reads a
copy of it.
"""

from __future__ import annotations

import pytest

from conftest import PUBLISHED_END, STATE_ID, Project, days_between, sent_while_built

pytestmark = [pytest.mark.job, pytest.mark.slow]

# dev's start_date (meltano.yml) to the last day of the shared run.
START, END = "2024-11-25", PUBLISHED_END
DAYS = days_between(START, END)


def test_daily_job_loads_transforms_and_gates_every_day(published: Project) -> None:
    project = published
    # Raw: every day of the window, as many rows as the server streamed and the tap logged.
    sent = sent_while_built(project)
    raw = project.raw_transactions_per_day()
    assert list(raw) == DAYS
    assert raw == sent
    assert project.emitted_per_day() == raw
    assert all(count > 0 for count in raw.values())
    (duplicates,) = project.query(
        "SELECT count(*) - count(DISTINCT transaction_key) FROM raw.transactions"
    )[0]
    assert duplicates == 0
    (orphans,) = project.query(
        "SELECT count(*) FROM raw.transactions t LEFT JOIN raw.customers c "
        "USING (customer_profile_key) WHERE c.customer_profile_key IS NULL"
    )[0]
    assert orphans == 0

    # Marts: the transactions mart holds each raw row once; reconciliation balances per day.
    mart = project.per_day(
        "SELECT transaction_date, count(*) FROM marts.mart_bnpl_transactions GROUP BY 1 ORDER BY 1"
    )
    assert mart == raw
    reconciliation = project.query(
        "SELECT reconciliation_date::VARCHAR, extracted_rows, raw_rows, mart_rows, is_balanced "
        "FROM marts.mart_bnpl_reconciliation ORDER BY 1"
    )
    assert [row[0] for row in reconciliation] == DAYS
    for day, extracted, raw_rows, mart_rows, balanced in reconciliation:
        assert (extracted, raw_rows, mart_rows, balanced) == (raw[day], raw[day], raw[day], True)
    (features,) = project.query("SELECT count(*) FROM marts.mart_bnpl_ml_features")[0]
    assert features == sum(raw.values())

    # Quality gate: one passing run over exactly the new days, every result kept.
    runs = project.query(
        "SELECT run_id, verdict, success, first_checked_day::VARCHAR, last_checked_day::VARCHAR, "
        "critical_failures FROM quality.gate_runs"
    )
    assert len(runs) == 1, runs
    run_id, verdict, success, first_day, last_day, critical = runs[0]
    assert success is True and critical == 0, runs[0]
    assert verdict.lower().startswith("pass"), verdict
    assert (first_day, last_day) == (START, END)
    results = project.query(
        "SELECT suite, count(*), count(*) FILTER (WHERE NOT success AND severity = 'critical') "
        "FROM quality.gate_results WHERE run_id = ? GROUP BY suite ORDER BY suite",
        [run_id],
    )
    assert {suite for suite, _, _ in results} == {
        "bnpl_business_rules",
        "bnpl_statistical_patterns",
    }
    assert all(total > 0 and failed == 0 for _, total, failed in results), results

    # State: the pipeline's bookmark is the last day of the window.
    bookmarks = project.state()["singer_state"]["bookmarks"]
    assert bookmarks["transactions"]["replication_key_value"] == END
    assert project.state_ids() == [STATE_ID]
