"""State across runs: the daily job resumes from its bookmark, and a backfill shares it.

Both jobs run `tap-simtom-bnpl target-duckdb-append` in the dev environment, so Meltano keeps one
state id for them (dev:tap-simtom-bnpl-to-target-duckdb-append) and a run extracts only the days
after the last bookmark (the tap starts at max(start_date, bookmark + 1 day)).

The runs the tests continue from are shared, each test on a copy of its own: the daily job's
first run (conftest.published_daily) and a backfill up to the day before the daily job's first
day (conftest.backfilled, which test_ml_train trains on).
"""

from __future__ import annotations

import pytest
from simtom_local import SimtomServer

from conftest import (
    BACKFILL_END,
    BACKFILL_START,
    PUBLISHED_END,
    STATE_ID,
    Project,
    days_between,
    sent_per_day,
)

pytestmark = [pytest.mark.job, pytest.mark.slow]

# The dev environment's start_date (meltano.yml): where a run without state begins.
DEV_START_DATE = "2024-11-25"


def extraction_days_by_run(project: Project) -> list[list[str]]:
    """The days each tap run extracted, runs in the order they started."""
    rows = project.query(
        "SELECT extraction_run_id, list(extraction_date::VARCHAR ORDER BY extraction_date) "
        "FROM raw.extraction_log GROUP BY 1 ORDER BY min(requested_at)"
    )
    return [days for _run_id, days in rows]


def batched_at_by_day(project: Project) -> dict[str, str]:
    """When the loader last wrote each day's transactions."""
    return {
        str(day): str(batched)
        for day, batched in project.query(
            "SELECT transaction_date, max(_sdc_batched_at) FROM raw.transactions GROUP BY 1"
        )
    }


def bookmark_days(project: Project) -> dict[str, str]:
    bookmarks = project.state()["singer_state"]["bookmarks"]
    return {stream: mark["replication_key_value"] for stream, mark in bookmarks.items()}


def assert_contiguous_without_duplicates(project: Project, start: str, end: str) -> None:
    """Every day START..END in raw and in the mart, each transaction exactly once."""
    raw = project.raw_transactions_per_day()
    assert list(raw) == days_between(start, end), "a day is missing or out of range"
    assert project.emitted_per_day() == raw, "raw rows differ from what the tap emitted"
    mart = project.per_day(
        "SELECT transaction_date, count(*) FROM marts.mart_bnpl_transactions GROUP BY 1 ORDER BY 1"
    )
    assert mart == raw
    for table in ("raw.transactions", "marts.mart_bnpl_transactions"):
        (duplicates,) = project.query(
            f"SELECT count(*) - count(DISTINCT transaction_key) FROM {table}"
        )[0]
        assert duplicates == 0, f"{table} holds a transaction twice"
    (extractions,) = project.query(
        "SELECT count(*) - count(DISTINCT extraction_date) FROM raw.extraction_log"
    )[0]
    assert extractions == 0, "a day was extracted twice"


def test_second_daily_run_adds_only_the_new_days(
    published: Project, simtom_server: SimtomServer
) -> None:
    # The first run (the shared conftest.published_daily) loaded dev's start_date..11-28.
    project = published
    raw_before = project.raw_transactions_per_day()
    batched_before = batched_at_by_day(project)
    assert list(raw_before) == days_between(DEV_START_DATE, PUBLISHED_END)

    second = project.run_job("daily", None, "2024-11-30")
    assert second.returncode == 0, second.tail()

    # The second tap run emitted 11-29 and 11-30 only...
    assert extraction_days_by_run(project) == [
        days_between(DEV_START_DATE, PUBLISHED_END),
        ["2024-11-29", "2024-11-30"],
    ]
    requests = simtom_server.requests
    assert requests, "the second run sent no request"
    assert all(body["end_date"] >= "2024-11-29" for body in requests), requests
    # ...so the days loaded before were neither duplicated nor written again,
    raw_after = project.raw_transactions_per_day()
    assert {day: raw_after[day] for day in raw_before} == raw_before
    batched_after = batched_at_by_day(project)
    assert {day: batched_after[day] for day in batched_before} == batched_before
    # and the new days hold what the server streamed for them.
    sent = sent_per_day(simtom_server)
    assert {day: raw_after[day] for day in ("2024-11-29", "2024-11-30")} == {
        day: sent[day] for day in ("2024-11-29", "2024-11-30")
    }
    assert_contiguous_without_duplicates(project, DEV_START_DATE, "2024-11-30")

    # One gate run per job run, the second over the new days only.
    gate_runs = project.query(
        "SELECT first_checked_day::VARCHAR, last_checked_day::VARCHAR, success "
        "FROM quality.gate_runs ORDER BY run_time"
    )
    assert gate_runs == [
        (DEV_START_DATE, PUBLISHED_END, True),
        ("2024-11-29", "2024-11-30", True),
    ]
    assert set(bookmark_days(project).values()) == {"2024-11-30"}


def test_backfill_then_daily_leaves_no_gap_and_no_duplicate(after_backfill: Project) -> None:
    # A backfill up to the day before the daily job's first day, as `make backfill` runs it
    # (it ran, and passed, in the shared conftest.backfilled).
    project = after_backfill
    assert project.state_ids() == [STATE_ID]
    assert set(bookmark_days(project).values()) == {BACKFILL_END}

    # The daily job, with its own configuration, continues the next day.
    daily = project.run_job("daily", None, "2024-11-26")
    assert daily.returncode == 0, daily.tail()
    assert project.state_ids() == [STATE_ID]
    assert extraction_days_by_run(project) == [
        days_between(BACKFILL_START, BACKFILL_END),
        ["2024-11-25", "2024-11-26"],
    ]

    # Even told to start inside the backfilled range, a daily run extracts only new days.
    overlapping = project.run_job("daily", "2024-11-11", "2024-11-27")
    assert overlapping.returncode == 0, overlapping.tail()
    assert extraction_days_by_run(project)[-1] == ["2024-11-27"]

    assert_contiguous_without_duplicates(project, BACKFILL_START, "2024-11-27")
    assert set(bookmark_days(project).values()) == {"2024-11-27"}
