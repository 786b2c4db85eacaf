"""The DAGs record their runs in pipeline_runs, and a failed task sends the failure notice.

A Meltano project of its own (tmp_path) with the repository's job lock and run log scripts,
and two jobs whose steps are real `meltano run`s of a utility command: `good` succeeds,
`bad` fails in its second step (the command exits 3, so `meltano run` exits 1).
`airflow dags test` runs each DAG built by the repository's DAG file; the callbacks write a
real DuckDB file through the project venv's Python and post to a real webhook on a
loopback port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml
from airflow_db import copy_airflow_db, migrated_airflow_db_fixture  # noqa: F401
from webhook import WebhookReceiver

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "orchestrate" / "airflow" / "dags"
AIRFLOW = ROOT / ".meltano" / "utilities" / "airflow" / "venv" / "bin" / "airflow"
MELTANO = shutil.which("meltano") or str(ROOT / ".venv" / "bin" / "meltano")

pytestmark = [pytest.mark.slow]

STEP = """\
import sys
if sys.argv[1] == "fail":
    print("step broke: the disk is on fire", file=sys.stderr)
    sys.exit(3)
print("step done")
"""
PROJECT = {
    "project_id": "5b1d7a9e-3c2f-4d6e-9a8b-7c6d5e4f3a2b",
    "default_environment": "dev",
    "send_anonymous_usage_stats": False,
    "environments": [{"name": "dev"}],
    "plugins": {
        "utilities": [
            {
                "name": "step",
                "namespace": "step",
                "executable": sys.executable,
                "commands": {
                    "ok": {"args": "$MELTANO_PROJECT_ROOT/step.py ok"},
                    "fail": {"args": "$MELTANO_PROJECT_ROOT/step.py fail"},
                },
            }
        ]
    },
    "jobs": [
        {"name": "good", "tasks": ["step:ok"]},
        {"name": "bad", "tasks": ["step:ok step:fail"]},
    ],
}


def test_dag_runs_are_recorded_and_a_failed_task_notifies_once(
    tmp_path: Path, migrated_airflow_db: Path
) -> None:
    if not AIRFLOW.exists():
        pytest.fail(f"{AIRFLOW} missing: install the Airflow utility first (make install)")
    project = tmp_path / "project"
    (project / "orchestrate").mkdir(parents=True)
    (project / "meltano.yml").write_text(yaml.safe_dump(PROJECT, sort_keys=False))
    (project / "step.py").write_text(STEP)
    for script in ("job_lock.py", "run_log.py"):
        shutil.copy2(ROOT / "orchestrate" / script, project / "orchestrate" / script)
    shutil.copytree(
        ROOT / "orchestrate" / "pipeline_runs", project / "orchestrate" / "pipeline_runs"
    )
    warehouse = tmp_path / "bnpl.duckdb"
    with WebhookReceiver() as webhook:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MELTANO_"))},
            "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
            # The Meltano utility's own setting (plugins/orchestrators.meltano.yml); Airflow's 30 s
            # default is too short for the DAG file's Meltano calls on busy cores.
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp_path / "airflow-logs"),
            "MELTANO_PROJECT_ROOT": str(project),
            "MELTANO_BIN": MELTANO,
            "MELTANO_DAG_RETRIES": "0",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "BNPL_DUCKDB_PATH": str(warehouse),
            "BNPL_RUN_LOG_DIR": str(tmp_path / "runs"),
            # The made-up project has no venv of its own: the repository's has DuckDB.
            "BNPL_RUN_LOG_PYTHON": sys.executable,
            "BNPL_FAILURE_WEBHOOK_URL": webhook.url,
        }

        def airflow(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(AIRFLOW), *args],
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )

        copy_airflow_db(migrated_airflow_db, tmp_path / "airflow.db")
        good = airflow("dags", "test", "good")
        assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
        assert webhook.notices == []
        bad = airflow("dags", "test", "bad")
        assert bad.returncode != 0, bad.stdout[-3000:] + bad.stderr[-3000:]

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            rows = con.execute(
                "SELECT run_id, job, orchestrator, status, current_step, failing_step, "
                "exit_code, error_tail, pid, ended_at IS NOT NULL "
                "FROM ops.pipeline_runs ORDER BY started_at"
            ).fetchall()
        finally:
            con.close()
        assert [row[1:4] for row in rows] == [
            ("good", "airflow", "success"),
            ("bad", "airflow", "failed"),
        ], bad.stdout[-3000:]
        (good_id, *_), (bad_id, _, _, _, step, failing, code, tail, pid, ended) = rows
        assert good_id.startswith("airflow:good:") and bad_id.startswith("airflow:bad:")
        # The step's exit code: `meltano run`'s, which is 1 when a block fails.
        assert (step, failing, code, pid, ended) == ("step:fail", "step:fail", 1, None, True)
        assert "the disk is on fire" in tail

        assert len(webhook.notices) == 1, webhook.notices
        (notice,) = webhook.notices
        assert (notice["job"], notice["run_id"], notice["status"]) == ("bad", bad_id, "failed")
        assert (notice["failing_step"], notice["exit_code"]) == ("step:fail", 1)
        assert "the disk is on fire" in notice["error_tail"]
