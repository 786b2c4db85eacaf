"""scripts/job_lock.py on its own, with small shell commands instead of a Meltano job."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.reliability]

JOB_LOCK = ROOT / "scripts" / "job_lock.py"


def locked(lock: Path, *command: str, wait: float | None = None) -> list[str]:
    extra = ["--wait", str(wait)] if wait is not None else []
    return [sys.executable, str(JOB_LOCK), "--lock-file", str(lock), *extra, "--", *command]


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
