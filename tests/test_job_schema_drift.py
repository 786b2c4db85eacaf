"""Schema drift upstream, through the real daily job against the local server.

A renamed required field must stop the job on one line, keep the bookmark on the last good
day and the marts as they were, and load that day on a plain rerun once the field is back;
a new field must travel all the way to staging, with the quality gate naming it in a
warning.
"""

from __future__ import annotations

import json

import pytest
from simtom_local import Faults, SimtomServer

from conftest import PUBLISHED_END, Project, days_between

pytestmark = [pytest.mark.job, pytest.mark.slow]

# Short runs: a few days of small volume.
VOLUME = {"TAP_SIMTOM_BNPL_BASE_DAILY_VOLUME": "40"}
# The day after the last good one (the shared published run, conftest.published_daily).
DRIFT_DAY, RERUN_END = "2024-11-29", "2024-11-30"


def bookmark(project: Project) -> str:
    bookmarks = project.state()["singer_state"]["bookmarks"]
    (day,) = {value["replication_key_value"] for value in bookmarks.values()}
    return day


def test_a_renamed_field_stops_the_job_and_a_rerun_loads_the_days(
    published: Project, simtom_server: SimtomServer
) -> None:
    # A good run loaded and published up to PUBLISHED_END.
    project = published
    assert bookmark(project) == PUBLISHED_END
    good_days = days_between("2024-11-25", PUBLISHED_END)
    assert list(project.raw_transactions_per_day()) == good_days
    published_marts = project.marts_snapshot()

    simtom_server.set_faults(Faults(rename_field={"amount": "amount_usd"}))
    failed = project.run_job("daily", None, RERUN_END)
    assert failed.returncode != 0, failed.tail()
    named = [line for line in failed.output.splitlines() if "missing amount" in line]
    assert len(named) == 1, failed.tail()
    assert f"{DRIFT_DAY}: " in named[0] and "max_rejected_share 1.0%" in named[0]
    assert "Traceback" not in failed.output
    assert bookmark(project) == PUBLISHED_END
    assert list(project.raw_transactions_per_day()) == good_days
    # The evidence reached the warehouse: the failing day's lines, each with its reason.
    quarantined = project.query(
        "SELECT extraction_date::VARCHAR, reason, count(*) FROM raw.quarantine GROUP BY ALL"
    )
    assert [(day, reason) for day, reason, _ in quarantined] == [(DRIFT_DAY, "missing amount")]
    assert project.marts_snapshot() == published_marts, "the marts changed although the job failed"

    simtom_server.set_faults(Faults())
    rerun = project.run_job("daily", None, RERUN_END)
    assert rerun.returncode == 0, rerun.tail()
    assert bookmark(project) == RERUN_END
    loaded = project.raw_transactions_per_day()
    assert list(loaded) == days_between("2024-11-25", RERUN_END)
    assert loaded == project.emitted_per_day()


def test_a_new_field_reaches_raw_and_staging_and_the_gate_names_it(
    project: Project, simtom_server: SimtomServer
) -> None:
    simtom_server.set_faults(Faults(add_field={"merchant_tier": "gold"}))
    run = project.run_job("daily", None, "2024-11-26", **VOLUME)
    assert run.returncode == 0, run.tail()
    assert "kept in transactions.extra_fields): merchant_tier" in run.output

    raw = project.query("SELECT DISTINCT extra_fields FROM raw.transactions")
    assert raw == [('{"merchant_tier":"gold"}',)]
    staged = project.query(
        "SELECT DISTINCT extra_fields->>'merchant_tier', typeof(extra_fields) "
        "FROM staging.stg_simtom__transactions"
    )
    assert staged == [("gold", "JSON")]
    warnings = project.query(
        "SELECT description, observed_value FROM quality.gate_results "
        "WHERE NOT success AND severity = 'warning'"
    )
    drift = [
        json.loads(observed) for description, observed in warnings if "simtom sent" in description
    ]
    assert drift and drift[0]["examples"] == [{"unknown_fields": "merchant_tier", "field_count": 1}]
    assert "merchant_tier" in run.output.split("quality gate daily_quality_gate", 1)[1]
