"""Every run of `make run` leaves a row in ops.pipeline_runs, and a failed or killed run
sends one failure notice.

The runs are real: orchestrate/run_job.py (what scripts/run_local.sh runs) runs the daily job
step by step against the local simtom-compatible server into a real DuckDB file, in a
project of its own (reliability.harness.isolated_project: private state, `.meltano/run/`
and job lock). The webhook is a real HTTP server on a loopback port.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date

import pytest
from reliability.harness import Running, isolated_project, kill_9, run_job, start_job
from simtom_local import SimtomServer
from webhook import WebhookReceiver, refusing_url

from conftest import ROOT, Project

pytestmark = [pytest.mark.job, pytest.mark.slow]

RUN_JOB = ROOT / "orchestrate" / "run_job.py"
RUN_LOG = ROOT / "orchestrate" / "run_log.py"
EXTRACT_LOAD = "tap-simtom-bnpl target-duckdb-append"
SKIPPED_DAY = "2024-11-27"
SKIP_A_DAY = {
    "transactions": {"__filter__": f"transaction_date != '{SKIPPED_DAY}'"},
    "extraction_log": {"__filter__": f"extraction_date != '{SKIPPED_DAY}'"},
}
COLUMNS = (
    "run_id, job, environment, orchestrator, status, current_step, failing_step, exit_code, "
    "error_tail, days_loaded, first_day, last_day, rows_loaded, host, pid, started_at, ended_at"
)


def project_for(tmp_path, api_url: str, **env: str) -> Project:
    return isolated_project(
        tmp_path,
        api_url,
        "simtom-test-key",
        BNPL_RUN_LOG_DIR=str(tmp_path / "runs"),
        TAP_SIMTOM_BNPL_START_DATE="2024-11-25",
        **env,
    )


def job(project: Project, name: str, end: str, **env: str) -> Running:
    command = [sys.executable, str(RUN_JOB), "--environment=dev", "daily"]
    return run_job(project, name, command, TAP_SIMTOM_BNPL_END_DATE=end, **env)


def runs(project: Project) -> list[dict]:
    rows = project.query(f"SELECT {COLUMNS} FROM ops.pipeline_runs ORDER BY started_at")
    names = [name.strip() for name in COLUMNS.split(",")]
    return [dict(zip(names, row, strict=True)) for row in rows]


def transactions_of(project: Project, *days: str) -> int:
    marks = ", ".join("?" for _ in days)
    return project.query(
        f"SELECT count(*) FROM raw.transactions WHERE transaction_date::VARCHAR IN ({marks})",
        list(days),
    )[0][0]


def test_success_then_a_failing_gate_each_leave_their_row(tmp_path, simtom_server) -> None:
    with WebhookReceiver() as webhook:
        project = project_for(tmp_path, simtom_server.url, BNPL_FAILURE_WEBHOOK_URL=webhook.url)

        clean = job(project, "run-clean", "2024-11-26")
        assert clean.proc.returncode == 0, clean.output[-3000:]
        (success,) = runs(project)
        assert success["status"] == "success", success
        assert (success["job"], success["environment"], success["orchestrator"]) == (
            "daily",
            "dev",
            "make",
        )
        assert (success["failing_step"], success["exit_code"]) == (None, 0)
        assert success["days_loaded"] == 2
        assert (success["first_day"], success["last_day"]) == (
            date(2024, 11, 25),
            date(2024, 11, 26),
        )
        assert success["rows_loaded"] == transactions_of(project, "2024-11-25", "2024-11-26") > 0
        assert success["pid"] == clean.proc.pid and success["host"]
        assert success["ended_at"] >= success["started_at"]
        assert webhook.notices == []

        skip = json.dumps(SKIP_A_DAY)
        bad = job(project, "run-gate-fails", "2024-11-28", TAP_SIMTOM_BNPL_STREAM_MAPS=skip)
        assert bad.proc.returncode != 0, bad.output[-3000:]
        first, failed = runs(project)
        assert first == success
        assert failed["status"] == "failed"
        assert failed["failing_step"] == "quality:gate"
        assert failed["exit_code"] == bad.proc.returncode
        # What the failed run loaded before the gate stopped it: 11-28 (11-27 was dropped).
        assert (failed["days_loaded"], failed["first_day"]) == (1, date(2024, 11, 28))
        assert failed["rows_loaded"] == transactions_of(project, "2024-11-28") > 0
        assert failed["error_tail"] and "gate" in failed["error_tail"].lower()

        assert len(webhook.notices) == 1, webhook.notices
        (notice,) = webhook.notices
        assert notice["status"] == "failed"
        assert (notice["job"], notice["environment"], notice["run_id"]) == (
            "daily",
            "dev",
            failed["run_id"],
        )
        assert notice["failing_step"] == "quality:gate"
        assert notice["exit_code"] == bad.proc.returncode
        assert notice["error_tail"] == failed["error_tail"]
        # The webhook's token is never printed.
        assert "secret-token" not in bad.output


def test_a_killed_run_is_marked_killed_by_the_next_and_announced_once(tmp_path) -> None:
    with (
        WebhookReceiver() as webhook,
        SimtomServer(host="127.0.0.1", port=0, pace_seconds=1.0) as server,
    ):
        project = project_for(tmp_path, server.url, BNPL_FAILURE_WEBHOOK_URL=webhook.url)
        command = [sys.executable, str(RUN_JOB), "--environment=dev", "daily"]
        running = start_job(project, "run-killed", command, TAP_SIMTOM_BNPL_END_DATE="2024-11-28")
        deadline = time.monotonic() + 600
        while not server.batch_log:
            assert running.proc.poll() is None, running.output[-3000:]
            assert time.monotonic() < deadline, "the server sent no day within 600 s"
            time.sleep(0.02)
        # kill -9 of the wrapper and of the `meltano run` it started, mid extract-load.
        outcome = kill_9(running, "everything")
        assert outcome["killed"] and outcome["phase"] == "extract-load", outcome
        (left,) = runs(project)
        assert (left["status"], left["current_step"]) == ("running", EXTRACT_LOAD)
        assert left["pid"] == running.proc.pid
        assert webhook.notices == []

        rerun = job(project, "run-after-kill", "2024-11-28")
        assert rerun.proc.returncode == 0, rerun.output[-3000:]
        killed, after = runs(project)
        assert killed["run_id"] == left["run_id"]
        assert killed["status"] == "killed"
        assert killed["failing_step"] == EXTRACT_LOAD
        assert killed["exit_code"] is None
        assert left["started_at"] <= killed["ended_at"] <= after["started_at"]
        assert after["status"] == "success"
        assert [n["run_id"] for n in webhook.notices] == [killed["run_id"]]
        assert webhook.notices[0]["status"] == "killed"
        assert webhook.notices[0]["failing_step"] == EXTRACT_LOAD

        # Sweeping again (another run, or the sweep command) announces nothing more.
        swept = subprocess.run(
            [sys.executable, str(RUN_LOG), "--environment=dev", "sweep"],
            cwd=ROOT,
            env=project.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert swept.returncode == 0, swept.stderr
        assert runs(project) == [killed, after]
        assert len(webhook.notices) == 1


def test_a_webhook_that_refuses_connections_changes_no_exit_code(tmp_path, simtom_server) -> None:
    project = project_for(tmp_path, simtom_server.url)
    # A start date the tap refuses: the extract-load step fails before any request.
    broken = {"TAP_SIMTOM_BNPL_START_DATE": "2024-11-31"}
    quiet = job(project, "run-no-webhook", "2024-11-26", **broken)
    refused = job(
        project, "run-webhook-down", "2024-11-26", BNPL_FAILURE_WEBHOOK_URL=refusing_url(), **broken
    )
    assert quiet.proc.returncode != 0, quiet.output[-3000:]
    assert refused.proc.returncode == quiet.proc.returncode, refused.output[-3000:]
    undelivered = [line for line in refused.output.splitlines() if "not delivered" in line]
    assert len(undelivered) == 1, refused.output[-3000:]
    assert "secret-token" not in refused.output
    rows = runs(project)
    assert [(r["status"], r["failing_step"]) for r in rows] == [("failed", EXTRACT_LOAD)] * 2
    assert [r["exit_code"] for r in rows] == [quiet.proc.returncode] * 2
