"""The daily DAG end to end under Airflow: `airflow dags test daily` through the Meltano
utility, on a real DuckDB file against the local simtom-compatible server.

The first run must succeed task by task and leave Meltano state under the same id a plain
`meltano run daily` uses. The second run loads data with a day missing (the tap's stream
maps drop it, as in test_job_gate.py), so the quality gate fails: the gate task must be the
failed one, after the extract-load and dbt staging tasks succeeded, and the marts task must
not run (the marts keep the first run's days).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from airflow_db import copy_airflow_db, migrated_airflow_db_fixture  # noqa: F401

from conftest import STATE_ID, Project

pytestmark = [pytest.mark.job, pytest.mark.slow]

DAILY_TASKS = [
    "load-check__preflight-duckdb",
    "tap-simtom-bnpl-to-target-duckdb-append",
    "dbt-duckdb__build-staging",
    "quality__gate",
    "dbt-duckdb__build-marts",
]
SKIPPED_DAY = "2024-11-27"
SKIP_A_DAY = {
    "transactions": {"__filter__": f"transaction_date != '{SKIPPED_DAY}'"},
    "extraction_log": {"__filter__": f"extraction_date != '{SKIPPED_DAY}'"},
}


def airflow_env(project: Project) -> dict[str, str]:
    """Airflow's metadata database (a copy of the migrated one) and logs in the test's
    folder; no retries."""
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{project.workdir / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(project.workdir / "airflow-logs"),
        "MELTANO_DAG_RETRIES": "0",
    }


def task_states(project: Project, logical_date: str) -> list[tuple[str, str]]:
    """(task_id, state) of the daily DAG run at `logical_date`, in the order they started."""
    # Read-only: a missing database is an error, not a new empty file.
    con = sqlite3.connect(f"file:{project.workdir / 'airflow.db'}?mode=ro", uri=True)
    try:
        return con.execute(
            "SELECT ti.task_id, ti.state FROM task_instance ti "
            "JOIN dag_run dr ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id "
            "WHERE ti.dag_id = 'daily' AND date(dr.logical_date) = ? "
            "ORDER BY ti.start_date IS NULL, ti.start_date, ti.task_id",
            [logical_date],
        ).fetchall()
    finally:
        con.close()


def test_daily_dag_runs_each_step_as_a_task(project: Project, migrated_airflow_db: Path) -> None:
    env = airflow_env(project)
    copy_airflow_db(migrated_airflow_db, project.workdir / "airflow.db")

    clean = project.meltano(
        "invoke",
        "airflow",
        "dags",
        "test",
        "daily",
        "2024-11-26",
        TAP_SIMTOM_BNPL_END_DATE="2024-11-26",
        **env,
    )
    assert clean.returncode == 0, clean.tail()
    assert task_states(project, "2024-11-26") == [(task, "success") for task in DAILY_TASKS]

    # The extract-load task kept the pipeline's own state id: a later `meltano run daily`
    # continues from this bookmark.
    state = project.state()
    assert state["singer_state"]["bookmarks"]["transactions"]["replication_key_value"] == (
        "2024-11-26"
    )
    assert STATE_ID in project.state_ids()
    assert sorted(project.raw_transactions_per_day()) == ["2024-11-25", "2024-11-26"]
    gate_runs = project.query("SELECT success FROM quality.gate_runs ORDER BY run_time")
    assert gate_runs == [(True,)]

    bad = project.meltano(
        "invoke",
        "airflow",
        "dags",
        "test",
        "daily",
        "2024-11-28",
        TAP_SIMTOM_BNPL_END_DATE="2024-11-28",
        TAP_SIMTOM_BNPL_STREAM_MAPS=json.dumps(SKIP_A_DAY),
        **env,
    )
    assert bad.returncode != 0, bad.tail()
    assert task_states(project, "2024-11-28") == [
        ("load-check__preflight-duckdb", "success"),
        ("tap-simtom-bnpl-to-target-duckdb-append", "success"),
        ("dbt-duckdb__build-staging", "success"),
        ("quality__gate", "failed"),
        ("dbt-duckdb__build-marts", "upstream_failed"),
    ], bad.tail()
    days = project.raw_transactions_per_day()
    assert SKIPPED_DAY not in days and "2024-11-28" in days
    published = project.query(
        "SELECT DISTINCT transaction_date::VARCHAR FROM marts.mart_bnpl_transactions ORDER BY 1"
    )
    assert published == [("2024-11-25",), ("2024-11-26",)]
    gate_runs = project.query("SELECT success FROM quality.gate_runs ORDER BY run_time")
    assert gate_runs == [(True,), (False,)]
