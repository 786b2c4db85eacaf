"""The run log on BigQuery: bnpl_ops.pipeline_runs written through orchestrate/run_log.py.

The CLI runs as the Airflow callbacks run it in prod: with the load-check utility's Python
(the venv holding the Google client), the prod environment's variables, against the local
BigQuery emulator (the hook in emulator_hook/ points the client at it). The raw tables are
made here as target-bigquery makes them (partitioned by _sdc_batched_at, clustered on the
key), some rows requested before the run and some during it; the failure notice goes to a
real webhook on a loopback port.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from webhook import WebhookReceiver

from conftest import ROOT

from .conftest import BigQueryProject

pytestmark = [pytest.mark.bigquery]

PYTHON = ROOT / ".meltano" / "utilities" / "load-check" / "venv" / "bin" / "python"
RUN_LOG = ROOT / "orchestrate" / "run_log.py"
RUN_ID = "airflow:daily-bigquery:manual__2024-11-27T02:00:00"
EXTRACT_LOAD = "tap-simtom-bnpl target-bigquery"
# Times are compared in SQL: the REST API returns TIMESTAMPs as epoch seconds.
ROW = (
    "run_id, job, environment, orchestrator, status, current_step, failing_step, exit_code, "
    "error_tail, days_loaded, first_day, last_day, rows_loaded, pid, "
    "ended_at IS NULL AS open, ended_at >= started_at AS ended_after_start"
)
RAW_TABLES = {
    "extraction_log": "extraction_key STRING, extraction_date DATE",
    "transactions": "transaction_key STRING, transaction_date DATE",
}


def run_log(
    project: BigQueryProject, *args: str, environment: str | None = "prod", **env: str
) -> subprocess.CompletedProcess[str]:
    """The CLI as the prod callbacks run it."""
    if not PYTHON.is_file():
        pytest.fail(f"{PYTHON} missing: install the load-check utility first (make install)")
    chosen = [f"--environment={environment}"] if environment else []
    done = subprocess.run(
        [str(PYTHON), str(RUN_LOG), *chosen, *args],
        cwd=ROOT,
        env=project.env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def rows(project: BigQueryProject) -> list[dict]:
    return project.bq.query(f"SELECT {ROW} FROM bnpl_ops.pipeline_runs ORDER BY started_at")


def create_raw_tables(project: BigQueryProject) -> None:
    project.bq.execute("CREATE SCHEMA bnpl_raw OPTIONS (location = 'US')")
    for table, columns in RAW_TABLES.items():
        key = columns.split()[0]
        project.bq.execute(
            f"CREATE TABLE bnpl_raw.{table} ({columns}, requested_at TIMESTAMP, "
            "_sdc_batched_at TIMESTAMP) "
            f"PARTITION BY TIMESTAMP_TRUNC(_sdc_batched_at, DAY) CLUSTER BY {key}"
        )


def load(project: BigQueryProject, days: dict[str, int], requested_at: str) -> None:
    """An extraction of each day (its extraction_log row and n transactions)."""
    for day, count in days.items():
        project.bq.execute(
            f"INSERT INTO bnpl_raw.extraction_log VALUES ('{day}', DATE '{day}', "
            f"{requested_at}, CURRENT_TIMESTAMP())"
        )
        values = ", ".join(
            f"('{day}-{i}', DATE '{day}', {requested_at}, CURRENT_TIMESTAMP())"
            for i in range(count)
        )
        project.bq.execute(f"INSERT INTO bnpl_raw.transactions VALUES {values}")


def test_a_failed_run_is_recorded_with_what_it_loaded_and_announced_once(
    bq_project: BigQueryProject, tmp_path: Path
) -> None:
    create_raw_tables(bq_project)
    # An earlier run's rows: requested before this run started, so not this run's.
    load(bq_project, {"2024-11-24": 4}, "TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)")
    with WebhookReceiver() as webhook:
        hook = {"BNPL_FAILURE_WEBHOOK_URL": webhook.url}
        start = ("start", "--run-id", RUN_ID, "--job", "daily-bigquery")
        run_log(bq_project, *start, "--orchestrator", "airflow", "--no-pid", **hook)
        run_log(bq_project, "step", "--run-id", RUN_ID, EXTRACT_LOAD, **hook)
        (running,) = rows(bq_project)
        assert running["status"] == "running" and running["open"], running
        assert (running["environment"], running["orchestrator"]) == ("prod", "airflow")
        assert (running["current_step"], running["pid"]) == (EXTRACT_LOAD, None)

        # This run's rows; 11-26 is extracted twice (a retried request): one day.
        load(bq_project, {"2024-11-25": 3, "2024-11-26": 2}, "CURRENT_TIMESTAMP()")
        load(bq_project, {"2024-11-26": 2}, "CURRENT_TIMESTAMP()")
        tail = tmp_path / "step.log"
        tail.write_text("".join(f"line {i}\n" for i in range(100)) + "load job failed\n")
        finish = ("finish", "--run-id", RUN_ID, "--status", "failed")
        failed = run_log(
            bq_project,
            *finish,
            *("--failing-step", EXTRACT_LOAD, "--exit-code", "1", "--error-tail-file", str(tail)),
            **hook,
        )
        (row,) = rows(bq_project)
        assert (row["status"], row["failing_step"], row["exit_code"]) == ("failed", EXTRACT_LOAD, 1)
        assert row["ended_after_start"], row
        assert row["error_tail"].splitlines()[-1] == "load job failed"
        assert len(row["error_tail"].splitlines()) == 40
        assert (str(row["first_day"]), str(row["last_day"])) == ("2024-11-25", "2024-11-26")
        assert (row["days_loaded"], row["rows_loaded"]) == (2, 7)

        (notice,) = webhook.notices
        assert (notice["status"], notice["job"], notice["environment"]) == (
            "failed",
            "daily-bigquery",
            "prod",
        )
        assert (notice["run_id"], notice["failing_step"], notice["exit_code"]) == (
            RUN_ID,
            EXTRACT_LOAD,
            1,
        )
        assert notice["error_tail"] == row["error_tail"]
        assert "secret-token" not in failed.stderr

        # A callback that fires again finds the row ended: nothing written, nothing sent.
        run_log(bq_project, *finish, "--exit-code", "9", **hook)
        assert rows(bq_project) == [row]
        assert len(webhook.notices) == 1

        # The DAG run cleared and run again: the same row runs again, then succeeds.
        run_log(bq_project, *start, "--orchestrator", "airflow", "--no-pid", **hook)
        (again,) = rows(bq_project)
        assert again["status"] == "running" and again["open"], again
        assert (again["failing_step"], again["exit_code"], again["error_tail"]) == (None,) * 3
        run_log(bq_project, "finish", "--run-id", RUN_ID, "--status", "success", **hook)
        (succeeded,) = rows(bq_project)
        assert (succeeded["status"], succeeded["failing_step"]) == ("success", None)
        assert len(webhook.notices) == 1


def test_sweep_marks_a_run_whose_process_is_gone_killed_and_announces_it_once(
    bq_project: BigQueryProject,
) -> None:
    with WebhookReceiver() as webhook:
        hook = {"BNPL_FAILURE_WEBHOOK_URL": webhook.url}
        # Started with the CLI's own process id: that process is gone once it has exited.
        run_log(bq_project, "start", "--run-id", "make-run", "--job", "daily-bigquery", **hook)
        run_log(bq_project, "step", "--run-id", "make-run", EXTRACT_LOAD, **hook)
        # Run times are kept to the second: the next run starts in a later one.
        time.sleep(1.1)
        # An Airflow run has no process id: the sweep leaves it to Airflow.
        airflow = ("--run-id", RUN_ID, "--job", "daily-bigquery", "--orchestrator", "airflow")
        run_log(bq_project, "start", *airflow, "--no-pid", **hook)

        swept = run_log(bq_project, "sweep", **hook)
        assert "run make-run of job daily-bigquery was killed" in swept.stderr
        killed, airflow_run = rows(bq_project)
        assert (killed["run_id"], killed["status"]) == ("make-run", "killed")
        assert (killed["failing_step"], killed["exit_code"]) == (EXTRACT_LOAD, None)
        # Nothing loaded: no raw dataset exists yet.
        assert (killed["days_loaded"], killed["rows_loaded"], killed["first_day"]) == (0, 0, None)
        assert (airflow_run["run_id"], airflow_run["status"]) == (RUN_ID, "running")
        # The killed run's window ends where the next run started.
        (ends,) = bq_project.bq.query(
            "SELECT killed.ended_at = next_run.started_at AS at_next_start "
            "FROM bnpl_ops.pipeline_runs killed, bnpl_ops.pipeline_runs next_run "
            f"WHERE killed.run_id = 'make-run' AND next_run.run_id = '{RUN_ID}'"
        )
        assert ends["at_next_start"], ends
        (notice,) = webhook.notices
        assert (notice["run_id"], notice["status"]) == ("make-run", "killed")

        run_log(bq_project, "sweep", **hook)
        assert rows(bq_project) == [killed, airflow_run]
        assert len(webhook.notices) == 1


def test_without_an_environment_the_cli_takes_meltano_yml_default_in_the_bigquery_venv(
    bq_project: BigQueryProject,
) -> None:
    # No --environment and no MELTANO_ENVIRONMENT: meltano.yml's default_environment (dev),
    # read in a venv that has no YAML parser; the warehouse is chosen by its own variable.
    run_log(
        bq_project,
        *("start", "--run-id", "by-hand", "--job", "daily", "--no-pid"),
        environment=None,
        MELTANO_ENVIRONMENT="",
        BNPL_RUN_LOG_WAREHOUSE="bigquery",
    )
    (row,) = rows(bq_project)
    assert (row["run_id"], row["environment"], row["status"]) == ("by-hand", "dev", "running")
