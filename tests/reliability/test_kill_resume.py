"""`kill -9` of the daily job at seeded random moments, each followed by a plain rerun.

One project, one three-week window, runs one after another. Each run is the same command
(the job through orchestrate/job_lock.py) and is killed at a random moment, until the last run
is left to finish:

- Six kills inside extract-load, while the tap streams days it has not extracted yet. The
  local server paces the stream (PACE_SECONDS between days, as simtom itself does), and a
  kill lands a seeded random delay after the server sent the run's first new day: while
  the tap holds a day, writes its batch files, or the loader commits them. The delays are
  drawn in turn from the first, second and third pace after that day, so each of those
  stretches is hit twice, once with each kind of kill: a `kill -9` of the `meltano run`
  process group (meltano, the tap, the loader), or of that and the lock wrapper, as a
  dying machine would.
- Then three inside the dbt build of staging, the quality gate and the dbt build of the
  marts, at a seeded random moment of the phase's length in the clean run. The server no
  longer paces the stream by then (the clean run was not paced either).

What each kill hit is measured, not assumed: the phase from the job's log, the days the
server had sent to that run, the raw rows committed and the bookmark saved when it died.
A kill counts as inside extract-load only when the job was in its extract-load block, the
server had begun sending new days, and days were still left to extract.

After every kill: the stored state parses, its bookmarks agree and never move back, and no
staging or mart model holds a key twice (raw may hold replays). At the end every model
equals the clean run's, key for key (customer models too: a resumed run asks for the same
aligned windows, so the same request bodies).
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

import pytest
from simtom_local import SimtomServer

from .harness import (
    BLOCK_DONE,
    END,
    CleanReference,
    Running,
    batch_files,
    bookmarks,
    compare_with_clean,
    duplicates,
    files_containing,
    isolated_project,
    job_command,
    kill_9,
    raw_replays,
    run_job,
    start_job,
    tables,
)

pytestmark = [pytest.mark.job, pytest.mark.slow, pytest.mark.reliability]

KILL_SEED = 8
EXTRACT_LOAD_KILLS = 6
LATER_KILLS = ("dbt build-staging", "quality gate", "dbt build-marts")
MAX_RUNS = 20
PACE_SECONDS = 1.0  # between streamed days
# Kill k of extract-load lands within pace k % 3 (0, 1 or 2) after the first new day: the
# server has sent that run at most k % 3 + 2 days, so at most 2 * (2 + 3 + 4) = 18 of the
# 21 days are extracted before the sixth kill: days are left for every kill, however fast
# the machine.
EXTRACT_LOAD_SPREAD = 3
# The tap's line when it starts in BATCH mode.
LEFTOVERS_DELETED = re.compile(r"\((\d+) leftover files of earlier runs deleted\)")
LATER_SPREAD = 0.8  # of the phase's clean duration: a rerun's phases run a little faster


def raw_rows(project) -> int:
    """Rows committed to raw.transactions (replays included)."""
    if ("raw", "transactions") not in tables(project):
        return 0
    return int(project.query("SELECT count(*) FROM raw.transactions")[0][0])


def new_days_sent(server: SimtomServer, since: int, bookmark: str | None) -> list[str]:
    """Days after the bookmark the server has sent since its batch log had `since` entries."""
    return [
        day
        for _request, day, _records in server.batch_log[since:]
        if day != "live" and (bookmark is None or day > bookmark)
    ]


def wait_for_first_new_day(
    running: Running, server: SimtomServer, since: int, bookmark: str | None
) -> float | None:
    """Seconds after the job's start at which the server sent it a new day (None if the
    job ended first)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if new_days_sent(server, since, bookmark):
            return running.elapsed()
        if running.proc.poll() is not None:
            return None
        time.sleep(0.01)
    raise TimeoutError("the server sent no new day within 600 s")


def sleep_until(running: Running, moment: float) -> None:
    while running.elapsed() < moment and running.proc.poll() is None:
        time.sleep(0.005)


def test_kill_9_at_random_moments_then_rerun_equals_a_clean_run(
    tmp_path, api_key: str, clean_reference: CleanReference, record
) -> None:
    rng = random.Random(KILL_SEED)
    plan = ["extract-load"] * EXTRACT_LOAD_KILLS + list(LATER_KILLS)
    plan_done: list[str] = []
    kills: list[dict[str, Any]] = []
    marks: dict[str, str] = {}
    plain_rerun: dict[str, Any] | None = None
    with SimtomServer(host="127.0.0.1", port=0, pace_seconds=PACE_SECONDS) as server:
        # The loader commits every 50 rows (after each day at this volume: ~65 transactions
        # and ~25 customers) instead of every 300,000, so kills land between its commits as
        # well as before the first.
        project = isolated_project(
            tmp_path, server.url, api_key, TARGET_DUCKDB_APPEND_BATCH_SIZE_ROWS="50"
        )
        number = 0
        while plan and number < MAX_RUNS:
            number += 1
            phase = plan[0]
            bookmark_before = next(iter(marks.values()), None)
            since = len(server.batch_log)
            running = start_job(project, f"run-kill{number:02d}", job_command())
            if phase == "extract-load":
                first_new_day = wait_for_first_new_day(running, server, since, bookmark_before)
                if first_new_day is None:
                    pytest.fail(f"run {number} ended before any new day:\n{running.output[-3000:]}")
                pace = len(plan_done) % EXTRACT_LOAD_SPREAD
                delay = rng.uniform(pace, pace + 1) * PACE_SECONDS
                moment = first_new_day + delay
                aimed = f"{delay:.2f} s after the first new day"
            else:
                if not running.wait_for_phase(phase, timeout=900):
                    kills.append({"run": number, "killed": False, "target_phase": phase})
                    continue
                delay = rng.uniform(0.0, LATER_SPREAD * clean_reference.phases[phase][1])
                moment = running.elapsed() + delay
                aimed = f"{delay:.2f} s into {phase}"
            sleep_until(running, moment)
            sent = new_days_sent(server, since, bookmark_before)
            # Extract-load: three group kills (one per pace) then three of everything; the
            # later phases alternate.
            turn = (
                len(plan_done) // EXTRACT_LOAD_SPREAD if phase == "extract-load" else len(plan_done)
            )
            mode = "everything" if turn % 2 else "group"
            outcome = kill_9(running, mode)

            # Nothing corrupted: the state parses, bookmarks agree and never move back,
            # staging and marts hold every key once.
            previous, marks = marks, bookmarks(project)
            assert len(set(marks.values())) <= 1, marks
            for stream, day in previous.items():
                assert marks.get(stream, "") >= day, (stream, previous, marks)
            doubled = duplicates(project)
            assert not any(doubled.values()), (number, doubled)
            bookmark_after = next(iter(marks.values()), None)
            outcome.update(
                run=number,
                target_phase=phase,
                aimed=aimed,
                new_days_sent=len(sent),
                bookmark_before=bookmark_before,
                bookmark=bookmark_after,
                raw_rows_at_kill=raw_rows(project),
                batch_files_left=len(batch_files(project)),
                **raw_replays(project),
            )
            outcome["mid_extraction"] = bool(
                outcome.get("killed")
                and outcome["phase"] == "extract-load"
                and sent
                and (bookmark_after or "") < END
            )
            landed = outcome.get("killed") and (
                outcome["mid_extraction"] if phase == "extract-load" else outcome["phase"] == phase
            )
            if landed:
                plan_done.append(plan.pop(0))
                if plan and plan[0] != "extract-load":
                    server.pace_seconds = 0.0
            kills.append(outcome)

            if plain_rerun is None and outcome["mid_extraction"]:
                # What a plain `meltano run` does right after a kill, without the lock
                # wrapper: Meltano still counts the killed run as running.
                probe = run_job(project, "run-plain-meltano", job_command(locked=False))
                plain_rerun = {
                    "after_kill": number,
                    "exit_code": probe.proc.returncode,
                    "refused_as_already_running": "already running" in probe.output,
                }
                marks = bookmarks(project)

        final = run_job(project, "run-final", job_command())

    result = compare_with_clean(project, clean_reference)
    # Killed runs leave Meltano's per-run config files (with the api_key) behind; the lock
    # wrapper deletes them, so none may survive anywhere in the project's folders.
    leaks = files_containing(tmp_path, [api_key])
    landed = [k for k in kills if k.get("killed")]
    by_phase = {
        "extract-load (mid-extraction)": sum(1 for k in landed if k["mid_extraction"]),
        **{p: sum(1 for k in landed if k["phase"] == p) for p in dict.fromkeys(LATER_KILLS)},
    }
    record(
        fault="kill -9 of the `meltano run` process group at seeded random moments "
        "(with or without the lock wrapper), each followed by a plain rerun through "
        "orchestrate/job_lock.py",
        injected=len(landed),
        injected_by_phase=by_phase,
        runs=len(kills) + 1 + (plain_rerun is not None),
        job_exit_code=final.proc.returncode,
        **result.fields(),
        pace_seconds=PACE_SECONDS,
        kills=kills,
        plain_meltano_rerun=plain_rerun,
        secret_leftovers=leaks,
        # BATCH files the tap wrote for a killed run that no loader committed (or deleted).
        batch_files_left_at_end=len(batch_files(project)),
        batch_leftovers_deleted=sum(
            int(n)
            for log in tmp_path.glob("meltano-*.log")
            for n in LEFTOVERS_DELETED.findall(log.read_text(errors="replace"))
        ),
    )

    assert final.proc.returncode == 0, final.output[-4000:]
    assert not plan, ("kills not landed", plan, kills)
    assert by_phase["extract-load (mid-extraction)"] >= EXTRACT_LOAD_KILLS, kills
    assert all(not k["leftovers_alive"] for k in landed), kills
    result.assert_equal()
    assert set(bookmarks(project).values()) == {END}
    unbalanced = project.query(
        "SELECT reconciliation_date FROM marts.mart_bnpl_reconciliation WHERE NOT is_balanced"
    )
    assert unbalanced == [], unbalanced
    assert BLOCK_DONE in final.output
    assert leaks == [], leaks
