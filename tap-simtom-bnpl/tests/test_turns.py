"""Windows read ahead of their turn keep what they receive in a file, not in memory.

Only the first window in flight is parsed; the others hold their response bytes in an
unnamed file in the directory the user chose (BATCH mode: the batch storage directory;
RECORD mode: TMPDIR), read back when their turn comes. The file never has a name there
and is closed, so its space freed, when the run succeeds, fails or is stopped (Ctrl-C).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_simtom import FakeSimtom, Step
from harness import TAP_EXECUTABLE, bookmark_days, run_tap, simtom_config, write_json
from simtom_local import Faults, SimtomServer
from test_batch import batch_config
from test_http_faults import assert_complete, config_for

from tap_simtom_bnpl.client import Cancelled
from tap_simtom_bnpl.rejections import RejectedDay
from tap_simtom_bnpl.turns import Turn

TWO_WINDOWS = {"end_date": "2024-12-08", "max_parallel_requests": 2}


def held_files(directory: Path, pid: int | str = "self") -> list[str]:
    """The unnamed files in `directory` the process holds open."""
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
        if target.startswith(f"{directory}/") and target.endswith(" (deleted)"):
            held.append(target)
    return held


def wait_for_window_threads() -> None:
    """Workers of a stopped run end once they see it cancelled."""
    deadline = time.monotonic() + 30
    while any(thread.name.startswith("window-") for thread in threading.enumerate()):
        assert time.monotonic() < deadline, "window threads still running"
        time.sleep(0.05)


def test_a_granted_window_is_handed_its_body_as_it_comes(tmp_path):
    turn = Turn(tmp_path, threading.Event())
    turn.grant()
    chunks = turn.chunks(iter([b"a", b"b"]))
    assert next(chunks) == b"a"
    assert held_files(tmp_path) == []
    assert list(chunks) == [b"b"]


def test_a_window_before_its_turn_holds_its_body_in_an_unnamed_file(tmp_path):
    turn = Turn(tmp_path, threading.Event())
    seen_while_waiting: list[list[str]] = []

    def body() -> Iterator[bytes]:
        yield b"day one\n"
        yield b"day two\n"
        seen_while_waiting.append(held_files(tmp_path))
        assert os.listdir(tmp_path) == []  # no name, so nothing to clean up by name
        turn.grant()
        yield b"day three\n"
        yield b"day four\n"  # after the turn: handed on as it comes

    received = list(turn.chunks(body()))

    assert len(seen_while_waiting[0]) == 1
    assert b"".join(received) == b"day one\nday two\nday three\nday four\n"
    assert received[-1] == b"day four\n"
    assert held_files(tmp_path) == []


def test_a_body_that_breaks_before_the_turn_is_handed_on_then_raises(tmp_path):
    turn = Turn(tmp_path, threading.Event())

    def body() -> Iterator[bytes]:
        yield b"day one\n"
        raise OSError("connection reset")

    received = []
    threading.Timer(0.2, turn.grant).start()
    with pytest.raises(OSError, match="connection reset"):
        received.extend(turn.chunks(body()))
    assert received == [b"day one\n"]
    assert held_files(tmp_path) == []


def test_a_window_waiting_for_its_turn_gives_up_when_the_run_stops(tmp_path):
    cancelled = threading.Event()
    turn = Turn(tmp_path, cancelled)
    chunks = turn.chunks(iter([b"day one\n"]))
    cancelled.set()
    threading.Timer(0.2, turn.grant).start()  # what the day driver does when it stops
    with pytest.raises(Cancelled):
        next(chunks)
    assert held_files(tmp_path) == []


def test_windows_torn_while_read_ahead_resume_at_their_incomplete_day(threaded_httpserver):
    # Every window's first answer breaks off two records in: for all but the first window
    # that happens while it is read ahead, and the error must wait for its turn.
    fake = FakeSimtom(threaded_httpserver, [Step(tear_after=2) for _ in range(3)])
    output = run_tap(config_for(fake, window_days=1, max_parallel_requests=3))
    assert_complete(output)
    assert sorted(body["start_date"] for body in fake.bodies) == sorted(
        ["2024-11-25", "2024-11-26", "2024-11-27"] * 2
    )
    assert {row["attempts"] for row in output.records("extraction_log")} == {2}


def test_a_window_that_starts_as_the_head_is_never_held(simtom, tmp_path, monkeypatch):
    # Each window is the head when it starts (one in flight), so none may wait in a file,
    # even when the day driver is slow to grant turns (a loaded machine).
    held: list[object] = []
    temporary_file = tempfile.TemporaryFile

    def counted_temporary_file(*args, **kwargs):
        held.append(kwargs.get("dir"))
        return temporary_file(*args, **kwargs)

    grant = Turn.grant

    def slow_grant(turn: Turn) -> None:
        time.sleep(0.3)
        grant(turn)

    monkeypatch.setattr(tempfile, "TemporaryFile", counted_temporary_file)
    monkeypatch.setattr(Turn, "grant", slow_grant)
    root = tmp_path / "batches"
    config = simtom_config(
        simtom, **{**TWO_WINDOWS, "max_parallel_requests": 1}, batch_config=batch_config(root)
    )
    output = run_tap(config)
    assert bookmark_days(output.final_state)["transactions"] == "2024-12-08"
    assert held == []


@pytest.mark.parametrize("mode", ["batch", "record"])
def test_a_run_holds_the_next_window_where_the_user_chose_until_ctrl_c(tmp_path, mode):
    with SimtomServer(port=0, pace_seconds=0.2) as paced:
        tmp_dir = tmp_path / "tmp"
        tmp_dir.mkdir()
        config = simtom_config(paced, **TWO_WINDOWS)
        spool_dir = tmp_dir
        if mode == "batch":
            spool_dir = tmp_path / "batches"
            config["batch_config"] = batch_config(spool_dir)
        process = subprocess.Popen(
            [TAP_EXECUTABLE, "--config", str(write_json(tmp_path / "config.json", config))],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "TMPDIR": str(tmp_dir)},
        )
        assert process.stdout is not None
        held: list[str] = []
        for line in process.stdout:
            if json.loads(line)["type"] == "STATE":
                # The first window's first day is out; the second window is read ahead.
                held = held_files(spool_dir, process.pid)
                process.send_signal(signal.SIGINT)
                break
        process.stdout.read()
        assert process.wait(timeout=60) == 130
    assert len(held) == 1, held
    left = {path.name for path in spool_dir.iterdir()}
    assert {name for name in left if not name.endswith((".jsonl", ".lock"))} == set()


def test_a_successful_run_closes_every_held_file(simtom, tmp_path):
    root = tmp_path / "batches"
    output = run_tap(simtom_config(simtom, **TWO_WINDOWS, batch_config=batch_config(root)))
    assert bookmark_days(output.final_state)["transactions"] == "2024-12-08"
    wait_for_window_threads()
    assert held_files(root) == []


def test_a_failing_run_closes_every_held_file(simtom, tmp_path):
    root = tmp_path / "batches"
    simtom.set_faults(Faults(rename_field={"amount": "amount_usd"}))
    with pytest.raises(RejectedDay):
        run_tap(simtom_config(simtom, **TWO_WINDOWS, batch_config=batch_config(root)))
    wait_for_window_threads()
    assert held_files(root) == []
