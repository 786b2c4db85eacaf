"""Two DAG runs and a `make run` at once never overlap: every step waits for the job lock.

A Meltano project of its own (tmp_path) with two jobs of two steps each; each step is a
real `meltano run` of a utility command that writes when it starts and ends, then sleeps.
Two `airflow dags test` runs (the `first` and `second` DAGs, built by the repository's
DAG file) start together; while the first Airflow step runs, `orchestrate/job_lock.py --
meltano run` as `make run` calls it must refuse at once (exit 75), and with `--wait` must
wait its turn. `dags test` runs a DAG in one process and does not go through the
scheduler's pools, so what keeps the steps apart here is the job lock alone; the pool is checked on
the DagBag (tests/test_airflow_dags.py) and imported here into a real metadata database.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from airflow_db import copy_airflow_db, migrated_airflow_db_fixture  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "orchestrate" / "airflow" / "dags"
AIRFLOW = ROOT / ".meltano" / "utilities" / "airflow" / "venv" / "bin" / "airflow"
POOLS = ROOT / "orchestrate" / "airflow" / "pools.json"
CHECK_DAGS = ROOT / "orchestrate" / "check_dags.py"
JOB_LOCK = ROOT / "orchestrate" / "job_lock.py"
MELTANO = shutil.which("meltano") or str(ROOT / ".venv" / "bin" / "meltano")

pytestmark = [pytest.mark.slow]

STEP_SECONDS = 4
# Appends "start|end <who> <time>" around a sleep; who = the Airflow task, or "make-run".
STEP = f"""\
import os, time
who = os.environ.get("AIRFLOW_CTX_DAG_ID", "make-run") + "." + os.environ.get(
    "AIRFLOW_CTX_TASK_ID", "step"
)
with open(os.environ["STEP_LOG"], "a") as log:
    log.write(f"start {{who}} {{time.time()}}\\n")
time.sleep({STEP_SECONDS})
with open(os.environ["STEP_LOG"], "a") as log:
    log.write(f"end {{who}} {{time.time()}}\\n")
"""
PROJECT = {
    "project_id": "9a7c1f4e-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
    "default_environment": "dev",
    "send_anonymous_usage_stats": False,
    "environments": [{"name": "dev"}],
    "plugins": {
        "utilities": [
            {
                "name": "step",
                "namespace": "step",
                # No pip_url: Meltano runs the executable as it is.
                "executable": sys.executable,
                "commands": {
                    "one": {"args": "$MELTANO_PROJECT_ROOT/step.py"},
                    "two": {"args": "$MELTANO_PROJECT_ROOT/step.py"},
                },
            }
        ]
    },
    "jobs": [
        {"name": "first", "tasks": ["step:one step:two"]},
        {"name": "second", "tasks": ["step:one step:two"]},
    ],
}


@pytest.fixture(scope="module", autouse=True)
def airflow_installed() -> None:
    if not AIRFLOW.exists():
        pytest.fail(f"{AIRFLOW} missing: install the Airflow utility first (make install)")


def intervals(log: Path) -> list[tuple[float, float, str]]:
    """(start, end, who) of every step, in the order they started."""
    started: dict[str, float] = {}
    spans = []
    for line in log.read_text().splitlines():
        kind, who, stamp = line.split()
        if kind == "start":
            assert who not in started, f"{who} started twice"
            started[who] = float(stamp)
        else:
            spans.append((started.pop(who), float(stamp), who))
    assert not started, f"steps that never ended: {started}"
    return sorted(spans)


def test_two_dag_runs_and_a_make_run_take_turns(tmp_path: Path, migrated_airflow_db: Path) -> None:
    project = tmp_path / "project"
    (project / "orchestrate").mkdir(parents=True)
    (project / "meltano.yml").write_text(yaml.safe_dump(PROJECT, sort_keys=False))
    (project / "step.py").write_text(STEP)
    # The project's own copy, as in the repository: its lock file is the project's.
    lock = project / "orchestrate" / "job_lock.py"
    shutil.copy2(JOB_LOCK, lock)
    step_log = tmp_path / "steps.log"
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
        "STEP_LOG": str(step_log),
    }

    def airflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AIRFLOW), *args], env=env, capture_output=True, text=True, timeout=600
        )

    copy_airflow_db(migrated_airflow_db, tmp_path / "airflow.db")
    # The pool file the `airflow:pools` command imports: one slot, under the DAGs' pool name.
    imported = airflow("pools", "import", str(POOLS))
    assert imported.returncode == 0, imported.stderr[-3000:]
    listed = airflow("pools", "list", "--output", "plain")
    assert any(line.split()[:2] == ["meltano_project", "1"] for line in listed.stdout.splitlines())
    # Parse once with Airflow's DagBag (writing the cached project description both runs
    # below then read): two DAGs, every step under the lock, in the pool.
    parsed = subprocess.run(
        [str(AIRFLOW.with_name("python")), str(CHECK_DAGS), str(DAGS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert parsed.returncode == 0, parsed.stdout[-2000:] + parsed.stderr[-2000:]
    dags = {dag["dag_id"]: dag for dag in json.loads(parsed.stdout)["dags"]}
    assert sorted(dags) == ["first", "second"]
    for dag in dags.values():
        for task in dag["tasks"]:
            assert task["pool"] == "meltano_project"
            assert f"job_lock.py --wait 1800 -- {MELTANO} run step:" in task["bash_command"]

    # Both `dags test` runs below write the parsed DAGs to the metadata database as they
    # start; two first writes at once collide on the `dag` table's key (UNIQUE constraint
    # failed: dag.dag_id), so the rows are written once here and both runs only read them.
    reserialized = airflow("dags", "reserialize")
    assert reserialized.returncode == 0, reserialized.stderr[-3000:]

    names = ("first", "second", "make", "make-wait")
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in names}
    commands = {
        "first": [str(AIRFLOW), "dags", "test", "first"],
        "second": [str(AIRFLOW), "dags", "test", "second"],
        # As scripts/run_local.sh (`make run`) calls it, and the same waiting instead.
        "make": [sys.executable, str(lock), "--", MELTANO, "run", "step:one"],
        "make-wait": [
            sys.executable,
            str(lock),
            "--wait",
            "600",
            "--",
            MELTANO,
            "run",
            "step:one",
        ],
    }

    def start(name: str) -> subprocess.Popen:
        return subprocess.Popen(
            commands[name], cwd=project, env=env, stdout=logs[name], stderr=subprocess.STDOUT
        )

    started = time.monotonic()
    running = {name: start(name) for name in ("first", "second")}
    # `make run` comes while an Airflow step runs: refused, or waiting with --wait.
    deadline = time.monotonic() + 600
    while not (step_log.exists() and "start" in step_log.read_text()):
        assert time.monotonic() < deadline, "no Airflow step started within 600 s"
        ended = [name for name, proc in running.items() if proc.poll() is not None]
        assert not ended, {name: (tmp_path / f"{name}.log").read_text()[-3000:] for name in ended}
        time.sleep(0.1)
    running["make"] = start("make")
    running["make"].wait(timeout=300)
    running["make-wait"] = start("make-wait")
    codes = {name: proc.wait(timeout=900) for name, proc in running.items()}
    elapsed = time.monotonic() - started
    for log in logs.values():
        log.close()
    outputs = {name: (tmp_path / f"{name}.log").read_text() for name in logs}
    assert codes == {"first": 0, "second": 0, "make": 75, "make-wait": 0}, {
        name: outputs[name][-2000:] for name, code in codes.items() if code
    }

    spans = intervals(step_log)
    assert sorted(who for _, _, who in spans) == [
        "first.step__one",
        "first.step__two",
        "make-run.step",
        "second.step__one",
        "second.step__two",
    ]
    overlaps = [(a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1]]
    assert overlaps == [], overlaps
    # `make run` was refused in one line naming the Airflow step that held the lock, and
    # the waiting one did wait (the lock was contended, not merely taken in turn).
    refusal = [line for line in outputs["make"].splitlines() if line.startswith("job_lock:")]
    assert len(refusal) == 1 and "not starting" in refusal[0], outputs["make"][-2000:]
    assert "job.lock" in refusal[0], refusal
    assert "job_lock: waiting up to 600 s for pid" in outputs["make-wait"], outputs["make-wait"]
    assert elapsed >= len(spans) * STEP_SECONDS
