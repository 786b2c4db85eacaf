"""Two runs of the daily job at once: the second refuses or waits; state is never corrupted.

Through orchestrate/job_lock.py (the wiring proposed for the Makefile and the schedules): a
second run refuses at once with one line and exit code 75, or with --wait waits for the
first and then runs, finding nothing new to extract.

Plain `meltano run`, without the lock, for the record: Meltano refuses a second run of a
pipeline only while the first is in its extract-load block. Started while the first is
in dbt, the second runs alongside it. The test records what happened to both and checks
the state and the marts were not corrupted either way.
"""

from __future__ import annotations

import time

import pytest
from simtom_local import SimtomServer

from .conftest import CleanReference
from .harness import (
    END,
    bookmarks,
    compare,
    duplicates,
    isolated_project,
    job_command,
    per_day,
    phase_of,
    run_job,
    snapshot,
    start_job,
)

pytestmark = [pytest.mark.job, pytest.mark.slow, pytest.mark.reliability]


def extraction_runs(project) -> list[tuple[str, int]]:
    return project.query(
        "SELECT extraction_run_id, count(*)::INT FROM raw.extraction_log GROUP BY 1"
    )


def wait_for_tap(running, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while "tap-simtom-bnpl" not in running.output:
        assert running.proc.poll() is None, running.output[-3000:]
        assert time.monotonic() < deadline, "the tap did not start"
        time.sleep(0.05)


def test_second_locked_run_refuses_or_waits(
    tmp_path, api_key: str, clean_reference: CleanReference, record
) -> None:
    with SimtomServer(host="127.0.0.1", port=0, pace_seconds=0.3) as server:
        project = isolated_project(tmp_path, server.url, api_key)
        first = start_job(project, "run-first", job_command())
        wait_for_tap(first)

        refused = run_job(project, "run-second-refused", job_command())
        waiting = start_job(project, "run-second-waits", job_command(wait=900))
        time.sleep(2)
        still_waiting = waiting.proc.poll() is None and "tap-simtom-bnpl" not in waiting.output
        first_code = first.wait()
        waited_code = waiting.wait()

    runs = extraction_runs(project)
    got = snapshot(project)
    diff = compare(clean_reference.snapshot, got)
    doubled = duplicates(project)
    record(
        fault="two runs of the job at once, through orchestrate/job_lock.py "
        "(second refuses; or waits with --wait)",
        injected=2,
        runs=3,
        job_exit_code=first_code,
        second_exit_code=refused.proc.returncode,
        waiting_exit_code=waited_code,
        rows_lost=sum(len(k) for k in diff["lost"].values()),
        rows_duplicated=sum(doubled.values()),
        refusal=refused.output.strip().splitlines()[-1:] if refused.output.strip() else [],
    )

    assert first_code == 0, first.output[-3000:]
    assert refused.proc.returncode == 75, refused.output
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1 and "not starting" in lines[0] and "job.lock" in lines[0], lines
    assert still_waiting, waiting.output[-2000:]
    assert waited_code == 0, waiting.output[-3000:]
    assert "waiting up to 900 s" in waiting.output
    # The waiting run came after the first and found nothing new to extract.
    assert len(runs) == 1 and runs[0][1] == len(clean_reference.per_day), runs
    assert set(bookmarks(project).values()) == {END}
    assert diff == {"missing_models": [], "lost": {}, "extra": {}}, diff
    assert per_day(project) == clean_reference.per_day
    assert not any(doubled.values()), doubled


def test_plain_meltano_runs_at_once_leave_state_intact(
    tmp_path, api_key: str, clean_reference: CleanReference, record
) -> None:
    with SimtomServer(host="127.0.0.1", port=0, pace_seconds=0.0) as server:
        project = isolated_project(tmp_path, server.url, api_key)
        first = start_job(project, "run-plain-first", job_command(locked=False))
        assert first.wait_for_phase("dbt build-staging", timeout=600), first.output[-3000:]
        second = start_job(project, "run-plain-second", job_command(locked=False))
        second_code = second.wait()
        overlapped = first.proc.poll() is None or phase_of(second.output) != "extract-load"
        first_code = first.wait()

    marks = bookmarks(project)  # raises on a corrupted state
    doubled = duplicates(project)
    record(
        fault="two plain `meltano run daily` at once, the second while the first is in dbt "
        "(no lock; for the record)",
        injected=2,
        runs=2,
        job_exit_code=first_code,
        second_exit_code=second_code,
        rows_lost=None,
        rows_duplicated=sum(doubled.values()),
        both_ran_at_once=overlapped,
        second_refused_as_already_running="already running" in second.output,
        lock_conflicts=sum(
            "Could not set lock" in run.output or "Conflicting lock" in run.output
            for run in (first, second)
        ),
    )
    assert set(marks.values()) == {END}, marks
    assert not any(doubled.values()), doubled
