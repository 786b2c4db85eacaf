"""The DAG folder under the real Airflow (the `airflow` utility's venv, `make install`).

Airflow's own DagBag imports orchestrate/airflow/dags (orchestrate/check_dags.py prints what
it found as JSON): the project's DAGs must import without errors and match meltano.yml;
a made-up project checks the parts the real one does not use (mappers, two extract-load
blocks, schedule env, @manual), and a broken one must surface as an import error.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "orchestrate" / "airflow" / "dags"
CHECK_DAGS = ROOT / "orchestrate" / "check_dags.py"
POOLS = ROOT / "orchestrate" / "airflow" / "pools.json"
JOB_LOCK = ROOT / "orchestrate" / "job_lock.py"
AIRFLOW_PYTHON = ROOT / ".meltano" / "utilities" / "airflow" / "venv" / "bin" / "python"
MELTANO = shutil.which("meltano") or str(ROOT / ".venv" / "bin" / "meltano")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_airflow_project import yaml_project  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def airflow_installed() -> None:
    if not AIRFLOW_PYTHON.exists():
        pytest.fail(
            f"{AIRFLOW_PYTHON} missing: install the Airflow utility first "
            "(meltano install --plugin-type utility airflow)"
        )


def check_dags(project: Path, tmp_path: Path) -> tuple[int, dict, str]:
    """DagBag over the repository's DAG folder, reading the Meltano project at `project`."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
        "MELTANO_PROJECT_ROOT": str(project),
        "MELTANO_BIN": MELTANO,
    }
    env.pop("MELTANO_DAG_RETRIES", None)
    result = subprocess.run(
        [str(AIRFLOW_PYTHON), str(CHECK_DAGS), str(DAGS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.stdout.startswith("{"), result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout), result.stderr


@pytest.fixture(scope="module")
def project_dags() -> dict:
    """The real project's DAGs, through the Meltano utility exactly as a user runs it."""
    env = {key: value for key, value in os.environ.items() if key != "MELTANO_DAG_RETRIES"}
    result = subprocess.run(
        [MELTANO, "invoke", "airflow:check-dags"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout)


def test_dag_folder_imports_without_errors(project_dags: dict) -> None:
    assert project_dags["import_errors"] == {}


def test_one_dag_per_schedule_and_per_unscheduled_job(project_dags: dict) -> None:
    project = yaml_project(ROOT)
    dags = {dag["dag_id"]: dag for dag in project_dags["dags"]}
    scheduled_jobs = {entry["job"] for entry in project["schedules"]}
    manual = [job["name"] for job in project["jobs"] if job["name"] not in scheduled_jobs]
    assert sorted(dags) == sorted([entry["name"] for entry in project["schedules"]] + manual)
    for entry in project["schedules"]:
        assert dags[entry["name"]]["schedule"] == entry["interval"]
        assert dags[entry["name"]]["timetable"] == "CronTriggerTimetable"
    for name in manual:
        assert dags[name]["timetable"] == "NullTimetable", name
    assert "backfill" in manual


def test_task_order_follows_the_job(project_dags: dict) -> None:
    """daily: the extract-load block, then each command, each waiting for the one before."""
    project = yaml_project(ROOT)
    dags = {dag["dag_id"]: dag for dag in project_dags["dags"]}
    jobs = {job["name"]: job["tasks"] for job in project["jobs"]}
    job_of = {entry["name"]: entry["job"] for entry in project["schedules"]}
    for dag_id, dag in dags.items():
        blocks = " ".join(jobs[job_of.get(dag_id, dag_id)]).split()
        tasks = dag["tasks"]
        assert [arg for task in tasks for arg in task["meltano_args"]] == blocks
        for previous, task in zip([None, *tasks], tasks, strict=False):
            assert task["upstream"] == ([previous["task_id"]] if previous else [])
            assert task["cwd"] == str(ROOT)
            assert task["bash_command"].endswith(" ".join(task["meltano_args"]))
    daily = [task["task_id"] for task in dags["daily"]["tasks"]]
    assert daily == [
        "load-check__preflight-duckdb",
        "tap-simtom-bnpl-to-target-duckdb-append",
        "dbt-duckdb__build-staging",
        "quality__gate",
        "dbt-duckdb__build-marts",
    ]


def test_every_step_runs_under_the_job_lock_in_the_one_slot_pool(project_dags: dict) -> None:
    """The lock `make run` takes, and one Airflow pool of one slot for every DAG."""
    (pool, spec), *others = json.loads(POOLS.read_text()).items()
    assert others == [] and spec["slots"] == 1
    for dag in project_dags["dags"]:
        for task in dag["tasks"]:
            assert (task["pool"], task["pool_slots"]) == (pool, 1), (dag["dag_id"], task)
            words = shlex.split(task["bash_command"])
            # The step's output also goes to a file of its own for the run log's error tail.
            assert words[4] == "--output" and words[5].endswith("/{{ti.id}}.log"), words
            python, lock, wait, seconds, separator, meltano, run = words[:4] + words[6:9]
            assert Path(python).name.startswith("python") and Path(python).is_file()
            assert (lock, wait, float(seconds), separator) == (str(JOB_LOCK), "--wait", 1800, "--")
            assert (meltano, run) == (MELTANO, "run"), task["bash_command"]


def test_retries_back_off_and_no_catch_up(project_dags: dict) -> None:
    for dag in project_dags["dags"]:
        assert dag["catchup"] is False
        assert dag["max_active_runs"] == 1
        assert dag["params"] == ["env", "full_refresh", "state_id_suffix"]
        for task in dag["tasks"]:
            assert task["retries"] == 3
            assert task["retry_delay_seconds"] == 60
            assert task["retry_exponential_backoff"] == 2.0
            assert task["max_retry_delay_seconds"] == 1800


MADE_UP = {
    "version": 1,
    "default_environment": "dev",
    "send_anonymous_usage_stats": False,
    "environments": [{"name": "dev"}],
    "plugins": {
        "extractors": [
            {"name": "tap-a", "namespace": "tap_a", "pip_url": "tap-a"},
            {"name": "tap-b", "namespace": "tap_b", "pip_url": "tap-b"},
        ],
        "mappers": [
            {
                "name": "map-clean",
                "namespace": "map_clean",
                "pip_url": "map-clean",
                "mappings": [{"name": "drop-pii", "config": {}}],
            }
        ],
        "loaders": [
            {"name": "target-x", "namespace": "target_x", "pip_url": "target-x"},
            {"name": "target-y", "namespace": "target_y", "pip_url": "target-y"},
        ],
        "utilities": [
            {
                "name": "dbt-x",
                "namespace": "dbt_x",
                "pip_url": "dbt-x",
                "commands": {"build": "build"},
            }
        ],
    },
    "jobs": [
        {"name": "nightly", "tasks": ["tap-a drop-pii target-x", "tap-b target-y dbt-x:build"]},
        {"name": "replay", "tasks": [["tap-a target-x"]]},
    ],
    "schedules": [
        {"name": "nightly-3am", "interval": "0 3 * * *", "job": "nightly", "env": {"LANE": "n"}},
        {"name": "replay-now", "interval": "@manual", "job": "replay"},
    ],
}


def write_project(tmp_path: Path, document: dict) -> Path:
    """A Meltano project of its own, with the job lock script every DAG step runs under."""
    project = tmp_path / "project"
    (project / "orchestrate").mkdir(parents=True)
    (project / "meltano.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    shutil.copy2(JOB_LOCK, project / "orchestrate" / "job_lock.py")
    return project


def test_made_up_project_builds_its_dags(tmp_path: Path) -> None:
    code, report, stderr = check_dags(write_project(tmp_path, MADE_UP), tmp_path)
    assert code == 0, stderr[-3000:]
    dags = {dag["dag_id"]: dag for dag in report["dags"]}
    assert sorted(dags) == ["nightly-3am", "replay-now"]
    nightly = dags["nightly-3am"]
    assert nightly["schedule"] == "0 3 * * *"
    assert [task["task_id"] for task in nightly["tasks"]] == [
        "tap-a-to-target-x",
        "tap-b-to-target-y",
        "dbt-x__build",
    ]
    assert nightly["tasks"][0]["meltano_args"] == ["tap-a", "drop-pii", "target-x"]
    assert all(task["env"] == {"LANE": "n"} for task in nightly["tasks"])
    assert dags["replay-now"]["timetable"] == "NullTimetable"
    assert [task["meltano_args"] for task in dags["replay-now"]["tasks"]] == [["tap-a", "target-x"]]


def test_a_project_without_the_job_lock_is_an_import_error(tmp_path: Path) -> None:
    project = write_project(tmp_path, MADE_UP)
    (project / "orchestrate" / "job_lock.py").unlink()
    code, report, _ = check_dags(project, tmp_path)
    assert code == 1 and report["dags"] == []
    [error] = report["import_errors"].values()
    assert "orchestrate/job_lock.py: expected the project's job lock script" in error


def test_broken_job_is_an_import_error_naming_the_block(tmp_path: Path) -> None:
    broken = {**MADE_UP, "jobs": [{"name": "nightly", "tasks": ["tap-a dbt-x:build"]}]}
    broken["schedules"] = [{"name": "nightly-3am", "interval": "0 3 * * *", "job": "nightly"}]
    code, report, _ = check_dags(write_project(tmp_path, broken), tmp_path)
    assert code == 1
    assert report["dags"] == []
    [error] = report["import_errors"].values()
    assert "job nightly: extractor tap-a reaches 'dbt-x:build' before a loader" in error
