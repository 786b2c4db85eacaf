"""`kill -9` of the daily job at ten seeded random moments, each followed by a plain rerun.

One project, one ten-day window, runs one after another: each run is killed at a random
moment of a chosen phase (extract-load, dbt build, quality gate), and the next run is the
same command again, until the last one is left to finish. Kills alternate between the
`meltano run` process alone (its tap, loader or dbt are orphaned) and the whole process
tree with the lock wrapper (a dying machine or container). The loader commits every 100
rows, so kills land between commits and state messages, and the raw layer may keep rows
of a day whose bookmark was lost: the rerun replays that day.

After every kill: the stored state parses, its bookmarks are equal and never move back,
and no staging or mart model holds a key twice. At the end every model equals the clean
run's, key for key (customer models too: a resumed run asks for the same windows).
"""

from __future__ import annotations

import random
import time

import pytest
from tap_simtom_bnpl.simtom_local import SimtomServer

from conftest import days_between

from .conftest import CleanReference
from .harness import (
    BLOCK_DONE,
    START,
    bookmarks,
    compare,
    duplicates,
    files_containing,
    isolated_project,
    job_command,
    kill_9,
    per_day,
    raw_replays,
    run_job,
    snapshot,
    start_job,
)

pytestmark = [pytest.mark.job, pytest.mark.slow, pytest.mark.reliability]

KILL_SEED = 8
KILLS = 10
MAX_RUNS = 16
# Ten kills: extraction first (while days are left to stream), every phase more than once.
KILL_PHASES = (
    "extract-load",
    "extract-load",
    "extract-load",
    "dbt build",
    "extract-load",
    "quality gate",
    "extract-load",
    "dbt build",
    "dbt build",
    "quality gate",
)
PACE_SECONDS = 1.0  # between streamed days, as simtom itself pauses
TAP_LINE = "] tap-simtom-bnpl "
DAY_LINE = " transactions, "  # the tap's progress line for each finished day


def days_after(marks: dict[str, str], end: str) -> int:
    """Days from the bookmark (exclusive) to end (inclusive); all ten without one."""
    if not marks:
        return len(days_between(START, end))
    return len(days_between(next(iter(marks.values())), end)) - 1


def test_kill_9_at_random_moments_then_rerun_equals_a_clean_run(
    tmp_path, api_key: str, clean_reference: CleanReference, record
) -> None:
    rng = random.Random(KILL_SEED)
    spans = clean_reference.phases
    kills: list[dict] = []
    previous_marks: dict[str, str] = {}
    plain_rerun: dict | None = None
    with SimtomServer(host="127.0.0.1", port=0, pace_seconds=PACE_SECONDS) as server:
        project = isolated_project(
            tmp_path, server.url, api_key, TARGET_DUCKDB_BATCH_SIZE_ROWS="100"
        )
        number = 0
        while sum(1 for k in kills if k.get("killed")) < KILLS and number < MAX_RUNS:
            number += 1
            # A run that finished before its moment came is not a kill: go on until ten.
            phase = KILL_PHASES[(number - 1) % len(KILL_PHASES)]
            running = start_job(project, f"run-kill{number:02d}", job_command())
            if phase == "extract-load":
                # A random moment while the tap streams the days still to do (one every
                # PACE_SECONDS), from its first day; with none left, while it starts.
                days_left = days_after(previous_marks, max(clean_reference.per_day))
                if not running.wait_for_output(DAY_LINE if days_left else TAP_LINE, 600):
                    kills.append({"kill": number, "killed": False, "target_phase": phase})
                    continue
                duration = days_left * PACE_SECONDS or 3.0
            else:
                if not running.wait_for_phase(phase, timeout=900):
                    kills.append({"kill": number, "killed": False, "target_phase": phase})
                    continue
                # Most of the phase's clean duration: a rerun's dbt and gate run a little
                # faster (fewer new days), and a run that ends first is not a kill.
                duration = 0.8 * spans.get(phase, (0.0, 5.0))[1]
            delay = rng.uniform(0.0, duration)
            deadline = running.elapsed() + delay
            while running.elapsed() < deadline and running.proc.poll() is None:
                time.sleep(0.02)
            mode = "meltano" if number % 2 else "everything"
            outcome = kill_9(running, mode)
            outcome.update(kill=number, target_phase=phase, delay=round(delay, 2))

            # Nothing corrupted: the state parses, bookmarks agree and never move back,
            # staging and marts hold every key once.
            marks = bookmarks(project)
            assert len(set(marks.values())) <= 1, marks
            for stream, day in previous_marks.items():
                assert marks.get(stream, "") >= day, (stream, previous_marks, marks)
            previous_marks = marks
            doubled = duplicates(project)
            assert not any(doubled.values()), (number, doubled)
            outcome.update(bookmark=next(iter(marks.values()), None), **raw_replays(project))
            kills.append(outcome)

            in_job = "Running job with name" in running.output
            if plain_rerun is None and outcome.get("phase") == "extract-load" and in_job:
                # What a plain `meltano run` does right after a kill, without the lock
                # wrapper: Meltano still counts the killed run as running.
                probe = run_job(project, "run-plain-meltano", job_command(locked=False))
                refused = "already running" in probe.output
                plain_rerun = {
                    "after_kill": number,
                    "exit_code": probe.proc.returncode,
                    "refused_as_already_running": refused,
                }
                previous_marks = bookmarks(project)

        final = run_job(project, "run-final", job_command())

    got = snapshot(project)
    diff = compare(clean_reference.snapshot, got)
    # Killed runs leave Meltano's per-run config files (with the api_key) behind; the lock
    # wrapper deletes them, so none may survive anywhere in the project's folders.
    leaks = files_containing(tmp_path, [api_key])
    doubled = duplicates(project)
    landed = [k for k in kills if k.get("killed")]
    record(
        fault="kill -9 of the job at random moments (meltano alone / whole process tree), "
        "each followed by a plain rerun through scripts/job_lock.py",
        injected=len(landed),
        injected_by_phase={
            p: sum(1 for k in landed if k["phase"] == p) for p in dict.fromkeys(KILL_PHASES)
        },
        runs=len(kills) + 1 + (plain_rerun is not None),
        job_exit_code=final.proc.returncode,
        rows_lost=sum(len(keys) for keys in diff["lost"].values()),
        rows_duplicated=sum(doubled.values()),
        **raw_replays(project),
        kills=kills,
        plain_meltano_rerun=plain_rerun,
        secret_leftovers=leaks,
    )

    assert final.proc.returncode == 0, final.output[-4000:]
    assert len(landed) >= KILLS, kills
    assert all(not k["leftovers_alive"] for k in landed), kills
    assert diff == {"missing_models": [], "lost": {}, "extra": {}}, diff
    assert per_day(project) == clean_reference.per_day
    assert not any(doubled.values()), doubled
    assert set(bookmarks(project).values()) == {max(clean_reference.per_day)}
    unbalanced = project.query(
        "SELECT reconciliation_date FROM marts.mart_bnpl_reconciliation WHERE NOT is_balanced"
    )
    assert unbalanced == [], unbalanced
    assert BLOCK_DONE in final.output
    assert leaks == [], leaks
