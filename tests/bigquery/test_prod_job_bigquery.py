"""The production job on BigQuery, run for real against the local BigQuery emulator.

`meltano run daily-bigquery` in the prod environment: the tap against the local simtom
server, target-bigquery with prod's load method and settings, dbt-bigquery building staging
(and the per-day reconciliation), the quality gate on BigQuery, then dbt-bigquery building
the marts. Only
the BigQuery service is emulated (PyPI local-bigquery on DuckDB); the hook in emulator_hook/
points the plugins' Google clients at it.

Every test continues from the same first run of the job (FIRST_START..FIRST_END), made
once per session (by whichever xdist worker asks first) on an emulator of its own, which
then stops: each test gets a copy of that emulator's data folder under an emulator of its
own, and a copy of the run's Meltano system database, dbt target folder and quality
reports, so what one test does to its warehouse the others never see.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from simtom_local import SimtomServer

from conftest import MART_MODELS, days_between, made_once, sent_per_day

from . import emulator
from .conftest import BigQueryProject, bigquery_project, new_gcp_project

pytestmark = [pytest.mark.bigquery, pytest.mark.job, pytest.mark.slow]

STATE_ID = "prod:tap-simtom-bnpl-to-target-bigquery"
FIRST_START, FIRST_END, SECOND_END = "2024-11-20", "2024-11-25", "2024-11-27"
LOOKBACK_DAYS = 3  # transform/dbt_project.yml: bnpl_lookback_days


@dataclass(frozen=True)
class FirstRun:
    """The daily-bigquery job run once over FIRST_START..FIRST_END, its emulator stopped."""

    workdir: Path  # the project's files: Meltano system database, dbt target, reports
    data_dir: Path  # the emulator's data folder
    gcp_project: str
    sent: dict[str, int]  # records the server streamed per day


@pytest.fixture(scope="session")
def first_run(tmp_path_factory: pytest.TempPathFactory, bq_installed: None) -> FirstRun:
    """The first run, made by the first worker to ask (`made_once`); the others read it."""

    def run_first(folder: Path) -> None:
        running = emulator.start(folder / "emulator-data", folder / "emulator.log")
        try:
            with SimtomServer(host="127.0.0.1", port=0, pace_seconds=0.0) as server:
                project = bigquery_project(
                    folder / "project", server.url, running, new_gcp_project()
                )
                run = project.run_job("daily-bigquery", FIRST_START, FIRST_END)
                assert run.returncode == 0, run.tail()
                sent = sent_per_day(server)
        finally:
            running.stop()
        (folder / "first-run.json").write_text(
            json.dumps({"gcp_project": project.gcp_project, "sent": sent})
        )

    root = made_once(tmp_path_factory, "bigquery-first-run", run_first)
    saved = json.loads((root / "first-run.json").read_text())
    return FirstRun(root / "project", root / "emulator-data", saved["gcp_project"], saved["sent"])


@pytest.fixture
def continued(
    first_run: FirstRun, tmp_path: Path, simtom_server: SimtomServer
) -> Iterator[BigQueryProject]:
    """A copy of the first run's project and warehouse, on an emulator of its own."""
    workdir = tmp_path / "project"
    shutil.copytree(
        first_run.workdir, workdir, ignore=shutil.ignore_patterns("meltano-*.log", "meltano-sys")
    )
    emulator.copy_data(first_run.data_dir, tmp_path / "emulator-data")
    running = emulator.start(tmp_path / "emulator-data", tmp_path / "emulator.log")
    try:
        yield bigquery_project(workdir, simtom_server.url, running, first_run.gcp_project)
    finally:
        running.stop()


def raw_per_day(project: BigQueryProject) -> dict[str, int]:
    return project.bq.per_day(
        "select transaction_date as day, count(*) as n from bnpl_raw.transactions "
        "group by 1 order by 1"
    )


def emitted_per_day(project: BigQueryProject) -> dict[str, int]:
    return project.bq.per_day(
        "select extraction_date as day, sum(records_emitted) as n from bnpl_raw.extraction_log "
        "group by 1 order by 1"
    )


def mart_per_day(project: BigQueryProject) -> dict[str, int]:
    return project.bq.per_day(
        "select transaction_date as day, count(*) as n from bnpl_marts.mart_bnpl_transactions "
        "group by 1 order by 1"
    )


def reconciled_per_day(project: BigQueryProject) -> dict[str, bool]:
    """is_balanced per day of dbt's int_bnpl_daily_reconciliation (what the gate reads)."""
    return {
        str(row["day"]): row["is_balanced"]
        for row in project.bq.query(
            "select reconciliation_date as day, is_balanced "
            "from bnpl_staging.int_bnpl_daily_reconciliation order by 1"
        )
    }


def prod_state(project: BigQueryProject) -> dict:
    run = project.meltano("state", "get", STATE_ID)
    assert run.returncode == 0, run.tail()
    return json.loads(run.output[run.output.index("{") :])


def test_daily_bigquery_job_then_incremental_run(
    continued: BigQueryProject, first_run: FirstRun, simtom_server: SimtomServer
) -> None:
    # First run (first_run): the daily job over a first window (no state yet: start_date
    # applies).
    bq_project = continued
    first_days = days_between(FIRST_START, FIRST_END)
    sent = first_run.sent
    raw = raw_per_day(bq_project)
    assert list(raw) == first_days
    assert raw == sent
    assert emitted_per_day(bq_project) == raw
    assert all(count > 0 for count in raw.values())
    assert reconciled_per_day(bq_project) == {day: True for day in first_days}

    # Raw tables as target-bigquery creates them with prod's settings.
    raw_table = bq_project.bq.table("bnpl_raw", "transactions")
    assert raw_table["timePartitioning"]["type"] == "DAY"
    assert raw_table["timePartitioning"]["field"] == "_sdc_batched_at"
    assert raw_table["clustering"]["fields"] == ["transaction_key"]
    assert raw_table["location"] == "US"

    # Marts: each raw row once, partitioned by day and clustered by customer.
    assert mart_per_day(bq_project) == raw
    mart = bq_project.bq.table("bnpl_marts", "mart_bnpl_transactions")
    assert mart["timePartitioning"]["field"] == "transaction_date"
    assert mart["timePartitioning"]["type"] == "DAY"
    assert mart["clustering"]["fields"] == ["customer_key"]
    reconciliation = bq_project.bq.query(
        "select reconciliation_date as day, extracted_rows, raw_rows, mart_rows, is_balanced "
        "from bnpl_marts.mart_bnpl_reconciliation order by 1"
    )
    assert [str(row["day"]) for row in reconciliation] == first_days
    assert all(row["is_balanced"] for row in reconciliation), reconciliation
    (first_invocation,) = {
        row["dbt_invocation_id"]
        for row in bq_project.bq.query(
            "select distinct dbt_invocation_id from bnpl_marts.mart_bnpl_transactions"
        )
    }

    # Quality gate: its results landed in bnpl_quality.
    gate_runs = bq_project.bq.query(
        "select success, first_checked_day, last_checked_day from bnpl_quality.gate_runs"
    )
    assert [
        (r["success"], str(r["first_checked_day"]), str(r["last_checked_day"])) for r in gate_runs
    ] == [(True, FIRST_START, FIRST_END)]
    assert bq_project.bq.query("select count(*) as n from bnpl_quality.gate_results")[0]["n"] > 0

    assert (
        prod_state(bq_project)["singer_state"]["bookmarks"]["transactions"]["replication_key_value"]
        == FIRST_END
    )

    # Second run: the state carries on from the bookmark; only the new days are extracted
    # (requests cover whole aligned windows, so the extraction log is what tells).
    run = bq_project.run_job("daily-bigquery", None, SECOND_END)
    assert run.returncode == 0, run.tail()
    runs = bq_project.bq.query(
        "select extraction_run_id, min(extraction_date) as first_day, "
        "max(extraction_date) as last_day, count(*) as days from bnpl_raw.extraction_log "
        "group by 1 order by 2"
    )
    assert [(str(r["first_day"]), str(r["last_day"]), r["days"]) for r in runs] == [
        (FIRST_START, FIRST_END, len(first_days)),
        (days_between(FIRST_END, SECOND_END)[1], SECOND_END, 2),
    ]

    all_days = days_between(FIRST_START, SECOND_END)
    raw = raw_per_day(bq_project)
    assert list(raw) == all_days
    # Requests cover whole windows: the second run's server sent some first days again.
    assert raw == {**first_run.sent, **sent_per_day(simtom_server)}
    assert emitted_per_day(bq_project) == raw
    assert reconciled_per_day(bq_project) == {day: True for day in all_days}

    # The mart merged the new days and rebuilt only the lookback window: older days keep
    # the rows (and the invocation id) of the first run.
    assert mart_per_day(bq_project) == raw
    (duplicates,) = bq_project.bq.query(
        "select count(*) - count(distinct transaction_key) as n "
        "from bnpl_marts.mart_bnpl_transactions"
    )
    assert duplicates["n"] == 0
    invocations = {
        str(row["day"]): row["invocations"]
        for row in bq_project.bq.query(
            "select transaction_date as day, "
            "string_agg(distinct dbt_invocation_id order by dbt_invocation_id) as invocations "
            "from bnpl_marts.mart_bnpl_transactions group by 1 order by 1"
        )
    }
    kept = days_between(FIRST_START, days_between(FIRST_START, FIRST_END)[-LOOKBACK_DAYS - 1])
    assert all(invocations[day] == first_invocation for day in kept), invocations
    rebuilt = [day for day in all_days if day not in kept]
    assert all(invocations[day] != first_invocation for day in rebuilt), invocations

    gate_runs = bq_project.bq.query(
        "select first_checked_day, last_checked_day from bnpl_quality.gate_runs "
        "where success order by first_checked_day"
    )
    assert [str(r["first_checked_day"]) for r in gate_runs][-1] > FIRST_END
    assert str(gate_runs[-1]["last_checked_day"]) == SECOND_END


def marts_snapshot(project: BigQueryProject) -> dict[str, list[str]]:
    """Every table of bnpl_marts with all its rows (as sorted JSON lines)."""
    return {
        table: sorted(
            json.dumps(row, sort_keys=True, default=str)
            for row in project.bq.query(f"select * from bnpl_marts.{table}")
        )
        for table in project.bq.tables("bnpl_marts")
    }


def test_a_failing_gate_leaves_the_bigquery_marts_as_they_were(
    continued: BigQueryProject,
) -> None:
    bq_project = continued  # after a good run over FIRST_START..FIRST_END
    before = marts_snapshot(bq_project)
    assert sorted(before) == MART_MODELS, sorted(before)
    assert all(before.values()), {k: len(v) for k, v in before.items()}

    # The tap's stream maps drop a day, as in tests/test_job_gate.py: only the gate notices.
    skipped = "2024-11-26"
    skip_a_day = {
        "transactions": {"__filter__": f"transaction_date != '{skipped}'"},
        "extraction_log": {"__filter__": f"extraction_date != '{skipped}'"},
    }
    bad = bq_project.run_job(
        "daily-bigquery", None, "2024-11-27", TAP_SIMTOM_BNPL_STREAM_MAPS=json.dumps(skip_a_day)
    )
    assert bad.returncode != 0, bad.tail()
    gate_runs = bq_project.bq.query("select success from bnpl_quality.gate_runs")
    assert sorted(r["success"] for r in gate_runs) == [False, True]

    # Staging got the new day for the gate to check; the marts did not change at all.
    staged = bq_project.bq.per_day(
        "select transaction_date as day, count(*) as n "
        "from bnpl_staging.stg_simtom__transactions group by 1 order by 1"
    )
    assert list(staged) == [*days_between(FIRST_START, FIRST_END), "2024-11-27"]
    after = marts_snapshot(bq_project)
    assert sorted(after) == sorted(before)
    for table, rows in before.items():
        assert after[table] == rows, f"bnpl_marts.{table} changed although the gate failed"
    assert list(mart_per_day(bq_project)) == days_between(FIRST_START, FIRST_END)


def test_a_load_target_bigquery_reported_as_done_fails_the_gate_and_leaves_the_marts(
    continued: BigQueryProject,
) -> None:
    bq_project = continued  # after a good run over FIRST_START..FIRST_END
    before = marts_snapshot(bq_project)
    assert all(before.values()), {k: len(v) for k, v in before.items()}

    # A raw column the next loads cannot fit (product_brand as INT64; no check reads it on
    # raw): every load job of transactions fails, and target-bigquery still exits 0 and
    # passes STATE on for those days.
    bq_project.bq.execute(
        "create or replace table bnpl_raw.transactions as "
        "select * replace (cast(null as int64) as product_brand) from bnpl_raw.transactions"
    )
    new_days = days_between("2024-11-26", "2024-11-27")
    bad = bq_project.run_job("daily-bigquery", None, new_days[-1])
    assert bad.returncode != 0, bad.tail()
    emitted = emitted_per_day(bq_project)
    assert all(emitted.get(day) for day in new_days), emitted
    assert list(raw_per_day(bq_project)) == days_between(FIRST_START, FIRST_END)

    # dbt built staging and the reconciliation; the gate failed the job on it.
    reconciled = {
        str(row["day"]): (row["records_emitted"], row["latest_run_raw_rows"], row["is_balanced"])
        for row in bq_project.bq.query(
            "select reconciliation_date as day, records_emitted, latest_run_raw_rows, "
            "is_balanced from bnpl_staging.int_bnpl_daily_reconciliation"
        )
    }
    for day in new_days:
        assert reconciled[day] == (emitted[day], 0, False), reconciled
    gate_runs = bq_project.bq.query(
        "select run_id, success from bnpl_quality.gate_runs order by run_time"
    )
    assert [r["success"] for r in gate_runs] == [True, False]
    failures = bq_project.bq.query(
        "select description from bnpl_quality.gate_results where not success "
        f"and severity = 'critical' and run_id = '{gate_runs[-1]['run_id']}'"
    )
    assert any(r["description"].startswith("extracted equals loaded per day") for r in failures)

    # The marts did not change at all.
    after = marts_snapshot(bq_project)
    for table, rows in before.items():
        assert after[table] == rows, f"bnpl_marts.{table} changed although the gate failed"
