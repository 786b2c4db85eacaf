"""A run cut mid-window, restarted from its last STATE, commits what one clean run does.

The tap runs as a real subprocess against a paced local server; after its third STATE it
gets a signal (or is killed outright). What a Singer target would have committed - the
messages up to the last STATE - plus the restarted run must equal a clean run, key for key.
"""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
from harness import (
    DAYS,
    END,
    TAP_EXECUTABLE,
    TapOutput,
    bookmark_days,
    run_tap,
    simtom_config,
    write_json,
)
from simtom_local import SimtomServer

RUN_FIELDS = {"extraction_run_id", "requested_at"}


@pytest.fixture(scope="module")
def paced_simtom():
    # Pacing leaves time between days, so the cut lands inside the 7-day window.
    with SimtomServer(port=0, pace_seconds=0.2) as server:
        yield server


@pytest.fixture(scope="module")
def clean_run(paced_simtom):
    """One uninterrupted run and the body of its (only) request."""
    paced_simtom.clear_requests()
    output = run_tap(simtom_config(paced_simtom))
    return output, paced_simtom.requests[0]


def content(output: TapOutput, stream: str, key: str) -> dict[str, dict]:
    return {
        record[key]: {k: v for k, v in record.items() if k not in RUN_FIELDS}
        for record in output.records(stream)
    }


def run_and_cut(config_path, after_states: int, sig: signal.Signals, stderr_path):
    """Start the tap, send `sig` once `after_states` STATE lines were read; return its output."""
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [TAP_EXECUTABLE, "--config", str(config_path)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        lines: list[str] = []
        states = 0
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if json.loads(line)["type"] == "STATE":
                states += 1
                if states == after_states:
                    process.send_signal(sig)
                    break
        lines.extend(process.stdout)
        returncode = process.wait(timeout=60)
    return TapOutput.parse("".join(lines)), returncode


@pytest.mark.parametrize(
    ("sig", "expected_returncode"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)],
    ids=["SIGTERM", "SIGINT", "SIGKILL"],
)
def test_cut_mid_window_then_resume_equals_one_clean_run(
    paced_simtom, clean_run, tmp_path, sig, expected_returncode
):
    config = simtom_config(paced_simtom)
    clean, clean_request = clean_run

    paced_simtom.clear_requests()
    cut, returncode = run_and_cut(
        write_json(tmp_path / "config.json", config), 3, sig, tmp_path / "stderr.log"
    )
    assert returncode == expected_returncode, "a signalled run never exits 0"
    committed = cut.committed()
    last_state = committed.final_state
    done = bookmark_days(last_state)["transactions"]
    assert DAYS[2] <= done < END, "the cut must land inside the window"

    # No STATE was written for a day whose records were not all out.
    logged_days: set[str] = set()
    for message in cut.messages:
        if message["type"] == "RECORD" and message["stream"] == "extraction_log":
            logged_days.add(message["record"]["extraction_date"])
        elif message["type"] == "STATE":
            assert bookmark_days(message["value"])["transactions"] in logged_days

    paced_simtom.clear_requests()
    resumed = run_tap(config, state=last_state)
    # The resumed run asks for the same aligned window and emits each later day once.
    assert paced_simtom.requests[0] == clean_request
    resumed_keys = resumed.keys("transactions")
    assert len(resumed_keys) == len(set(resumed_keys))
    assert min(t["transaction_date"] for t in resumed.records("transactions")) > done
    assert bookmark_days(resumed.final_state)["transactions"] == END

    for stream, key in (
        ("transactions", "transaction_key"),
        ("customers", "customer_profile_key"),
    ):
        merged = content(committed, stream, key) | content(resumed, stream, key)
        assert merged == content(clean, stream, key), stream
    merged_days = [
        row["extraction_date"]
        for output in (committed, resumed)
        for row in output.records("extraction_log")
    ]
    assert merged_days == DAYS
