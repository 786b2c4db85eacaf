"""orchestrate/job_lock.py on its own, with small shell commands instead of a Meltano job."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.reliability]

JOB_LOCK = ROOT / "orchestrate" / "job_lock.py"


def locked(lock: Path, *command: str, wait: float | None = None) -> list[str]:
    extra = ["--wait", str(wait)] if wait is not None else []
    return [sys.executable, str(JOB_LOCK), "--lock-file", str(lock), *extra, "--", *command]


@pytest.fixture(autouse=True)
def own_meltano_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The wrapper cleans `.meltano/run/`: point it at a scratch one, never the project's."""
    monkeypatch.setenv("MELTANO_SYS_DIR_ROOT", str(tmp_path / "meltano-sys"))
    return tmp_path / "meltano-sys"


def test_second_run_refuses_with_one_line_or_waits(tmp_path: Path) -> None:
    lock = tmp_path / "job.lock"
    first = subprocess.Popen(locked(lock, "sleep", "3"))
    time.sleep(0.8)
    refused = subprocess.run(locked(lock, "true"), capture_output=True, text=True)
    started = time.monotonic()
    waited = subprocess.run(locked(lock, "true", wait=30), capture_output=True, text=True)
    waited_for = time.monotonic() - started
    assert first.wait() == 0
    assert refused.returncode == 75
    assert refused.stdout == "" and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "not starting `true`" in refused.stderr and "sleep 3" in refused.stderr
    assert waited.returncode == 0 and "waiting up to 30 s" in waited.stderr
    assert waited_for > 1.0


def test_exit_codes_pass_through_and_meltano_is_told_to_force(tmp_path: Path) -> None:
    lock = tmp_path / "job.lock"
    assert subprocess.run(locked(lock, "sh", "-c", "exit 3")).returncode == 3
    assert subprocess.run(locked(lock, "sh", "-c", "kill -9 $$")).returncode == 137
    forced = subprocess.run(
        locked(lock, "sh", "-c", "echo $MELTANO_RUN_FORCE"), capture_output=True, text=True
    )
    assert forced.stdout.strip() == "true"


def test_processes_left_behind_are_stopped_before_the_lock_is_released(tmp_path: Path) -> None:
    lock = tmp_path / "job.lock"
    marker = tmp_path / "orphan-still-ran"
    # The command dies at once, leaving a child that would write the marker in 3 s.
    done = subprocess.run(
        locked(lock, "sh", "-c", f"(sleep 3; touch {marker}) & kill -9 $$"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 137
    assert "stopped processes" in done.stderr
    after = subprocess.run(locked(lock, "true"), capture_output=True, text=True)
    assert after.returncode == 0, after.stderr
    time.sleep(3.5)
    assert not marker.exists(), "a process left behind kept running"


def test_config_files_a_killed_run_left_are_deleted(tmp_path: Path, own_meltano_dir: Path) -> None:
    plugin_run = own_meltano_dir / "run" / "tap-simtom-bnpl"
    plugin_run.mkdir(parents=True)
    left = plugin_run / "tap.01a208dd-1518-7ae5-a470-ae39e9544a0c.config.json"
    left.write_text('{"api_key": "leftover-secret"}')
    catalog = plugin_run / "tap.properties.json"
    catalog.write_text("{}")
    done = subprocess.run(locked(tmp_path / "job.lock", "true"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not left.exists() and catalog.exists()
    assert "removed 1 config file" in done.stderr
    assert os.environ["MELTANO_SYS_DIR_ROOT"] == str(own_meltano_dir)
