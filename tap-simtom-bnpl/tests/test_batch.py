"""BATCH mode: day files announced by BATCH messages before each STATE, over real HTTP.

The files must hold exactly what RECORD mode would emit, key for key; names are unique per
run, day and stream; a run deletes what earlier runs left at its location; a run killed
mid-window and resumed from its last STATE loads what one clean run does.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import signal
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
from harness import (
    DAYS,
    END,
    PRIMARY_KEYS,
    STREAMS,
    TAP_EXECUTABLE,
    TapOutput,
    bookmark_days,
    cli,
    error_lines,
    run_tap,
    simtom_config,
    write_json,
)
from simtom_local import Faults, SimtomServer

# Fields that name the run or the moment: they differ between any two runs.
RUN_FIELDS = {
    "extraction_run_id",
    "requested_at",
    "extraction_key",
    "started_at",
    "finished_at",
    "duration_seconds",
    "quarantine_key",
    "quarantined_at",
}
# extraction_log and quarantine rows are keyed by run; compare them by day and line.
DAY_KEYS = {**PRIMARY_KEYS, "extraction_log": "extraction_date", "quarantine": "line_number"}


def batch_config(root: Path, compression: str = "none", prefix: str = "") -> dict:
    return {
        "encoding": {"format": "jsonl", "compression": compression},
        "storage": {"root": root.as_uri(), "prefix": prefix},
    }


def read_batch_file(url: str, compression: str) -> list[dict]:
    path = Path(urlparse(url).path)
    opener = gzip.open if compression == "gzip" else open
    with opener(path, "rb") as handle:
        return [json.loads(line) for line in handle]


def batch_records(output: TapOutput) -> dict[str, list[dict]]:
    """The records the BATCH messages of a run announce, per stream, read from the files."""
    records: dict[str, list[dict]] = {name: [] for name in STREAMS}
    for message in output.messages:
        if message["type"] == "BATCH":
            for url in message["manifest"]:
                records[message["stream"]] += read_batch_file(
                    url, message["encoding"]["compression"]
                )
    return records


def by_key(records: list[dict], stream: str) -> dict:
    key = DAY_KEYS[stream]
    return {r[key]: {k: v for k, v in r.items() if k not in RUN_FIELDS} for r in records}


def manifest_paths(output: TapOutput) -> list[Path]:
    return [
        Path(urlparse(url).path)
        for message in output.messages
        if message["type"] == "BATCH"
        for url in message["manifest"]
    ]


@pytest.fixture(scope="module")
def record_mode(simtom_server):
    """A RECORD-mode run of the quick-start range, with a line fault for the quarantine.

    About 2% of a day's lines are bad: max_rejected_share lets the days load.
    """
    simtom_server.set_faults(Faults(malformed_every=97, non_numeric_amount_at=[5]))
    try:
        return run_tap(simtom_config(simtom_server, max_rejected_share=0.1))
    finally:
        simtom_server.set_faults(Faults())


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_batch_files_hold_exactly_the_records_of_record_mode(
    simtom, record_mode, tmp_path, compression
):
    simtom.set_faults(Faults(malformed_every=97, non_numeric_amount_at=[5]))
    output = run_tap(
        simtom_config(
            simtom,
            max_rejected_share=0.1,
            batch_config=batch_config(tmp_path / "batches", compression),
        )
    )
    assert not [m for m in output.messages if m["type"] == "RECORD"]
    files = batch_records(output)
    for stream in STREAMS:
        expected = record_mode.records(stream)
        assert expected, f"the comparison needs {stream} records"
        assert len(files[stream]) == len(expected), stream
        assert by_key(files[stream], stream) == by_key(expected, stream), stream
        # Key for key, and the same key order within each record too.
        assert [list(r) for r in files[stream]] == [list(r) for r in expected], stream
    assert output.final_state == record_mode.final_state
    for message in output.messages:
        if message["type"] == "BATCH":
            assert message["encoding"] == {"format": "jsonl", "compression": compression}
            suffix = ".jsonl.gz" if compression == "gzip" else ".jsonl"
            assert all(url.startswith("file:///") for url in message["manifest"])
            assert all(url.endswith(suffix) for url in message["manifest"])


def test_each_day_is_its_files_then_their_batch_messages_then_its_state(simtom, tmp_path):
    # Volume 200: every day, Thanksgiving's ~40 transactions included, has a new customer.
    config = simtom_config(
        simtom, base_daily_volume=200, batch_config=batch_config(tmp_path, "gzip")
    )
    output = run_tap(config)
    day_messages: list[dict] = []
    seen_days = []
    for message in output.messages:
        if message["type"] == "SCHEMA":
            continue
        if message["type"] == "BATCH":
            day_messages.append(message)
            continue
        assert message["type"] == "STATE"
        day = bookmark_days(message["value"])["transactions"]
        seen_days.append(day)
        streams = [m["stream"] for m in day_messages]
        # One file per stream with records that day, in the tap's stream order.
        assert streams == ["customers", "transactions", "extraction_log"], day
        for batch in day_messages:
            (url,) = batch["manifest"]
            rows = read_batch_file(url, "gzip")
            assert rows
            date_field = {
                "customers": "first_seen_date",
                "transactions": "transaction_date",
                "extraction_log": "extraction_date",
            }[batch["stream"]]
            assert {row[date_field] for row in rows} == {day}, "a file holds one day"
        day_messages = []
    assert seen_days == DAYS
    assert not day_messages, "nothing is announced after the last STATE"


def test_file_names_are_unique_and_a_run_deletes_what_earlier_runs_left(simtom, tmp_path):
    root = tmp_path / "batches"
    config = simtom_config(
        simtom, end_date="2024-11-27", batch_config=batch_config(root, prefix="bnpl/")
    )
    first = run_tap(config)
    first_paths = manifest_paths(first)
    assert len(first_paths) == len(set(first_paths)) == 3 * 3
    assert all(path.parent == root / "bnpl" for path in first_paths)
    assert all(path.exists() for path in first_paths)
    # What a killed run can leave: an unfinished file and files nobody loaded. Other files
    # at the location, and files under another prefix, are not the tap's to delete.
    (root / "bnpl" / "tap-simtom-bnpl-dead-run-20241125-transactions.jsonl.gz.part").write_text("")
    (root / "bnpl" / "notes.txt").write_text("keep")
    (root / "bnpl" / "other-tap-simtom-bnpl-x-20241125-customers.jsonl").write_text("keep")
    second = run_tap(config)
    second_paths = manifest_paths(second)
    assert len(second_paths) == 9 and not set(first_paths) & set(second_paths)
    left = sorted(path.name for path in (root / "bnpl").iterdir())
    assert left == sorted(
        [path.name for path in second_paths]
        + ["notes.txt", "other-tap-simtom-bnpl-x-20241125-customers.jsonl", "tap-simtom-bnpl.lock"]
    )


def test_a_second_run_at_the_same_location_is_refused_on_one_line(simtom, tmp_path):
    root = tmp_path / "batches"
    root.mkdir()
    with (root / "tap-simtom-bnpl.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = cli(tmp_path, config=simtom_config(simtom, batch_config=batch_config(root)))
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert "batch_config.storage: another tap-simtom-bnpl run is writing batch files" in line
    assert not result.stdout.count('"BATCH"')


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (
            {"encoding": {"format": "parquet"}, "storage": {"root": "file:///tmp/x"}},
            "batch_config.encoding.format: expected 'jsonl', got 'parquet'",
        ),
        (
            {"encoding": {"format": "jsonl", "compression": "zstd"}, "storage": {"root": "/x"}},
            "batch_config.encoding.compression: expected 'none' or 'gzip', got 'zstd'",
        ),
        (
            {"encoding": {"format": "jsonl"}, "storage": {"root": "s3://bucket/x"}},
            "batch_config.storage.root: expected a file:// URL or an absolute path",
        ),
        (
            {"encoding": {"format": "jsonl"}, "storage": {"root": "/x", "prefix": "../up"}},
            "batch_config.storage.prefix: expected a relative file name prefix",
        ),
        (
            # The Singer SDK raised a TypeError (a traceback) for an encoding without format.
            {"encoding": {"compression": "gzip"}, "storage": {"root": "/x"}},
            "batch_config.encoding.format: required, expected 'jsonl'",
        ),
        (
            {"storage": {"root": "/x"}},
            "batch_config.encoding: required, expected an object",
        ),
        (
            {"encoding": {"format": "jsonl", "level": 9}, "storage": {"root": "/x"}},
            "batch_config.encoding: unexpected field 'level'; expected only format, compression",
        ),
        (
            {"encoding": {"format": "jsonl"}, "storage": {"root": "/x", "bucket": "b"}},
            "batch_config.storage: unexpected field 'bucket'; expected only root, prefix",
        ),
    ],
    ids=[
        "parquet",
        "compression",
        "s3",
        "prefix",
        "no-format",
        "no-encoding",
        "encoding-field",
        "storage-field",
    ],
)
def test_invalid_batch_config_is_one_line(simtom, tmp_path, batch, message):
    result = cli(tmp_path, config=simtom_config(simtom, batch_config=batch))
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert message in line
    assert "Traceback" not in result.stderr
    assert not simtom.requests


def test_about_declares_batch_and_its_setting(tmp_path):
    about = json.loads(cli(tmp_path, "--about", "--format=json").stdout)
    assert "batch" in about["capabilities"]
    storage = about["settings"]["properties"]["batch_config"]["properties"]["storage"]
    assert set(storage["properties"]) == {"root", "prefix"}


@pytest.fixture(scope="module")
def paced_simtom():
    # Pacing leaves time between days, so the kill lands inside the 7-day window.
    with SimtomServer(port=0, pace_seconds=0.2) as server:
        yield server


def test_killed_batch_run_resumed_from_its_state_loads_what_one_clean_run_does(
    paced_simtom, tmp_path
):
    root = tmp_path / "batches"
    config = simtom_config(paced_simtom, batch_config=batch_config(root, "gzip"))
    clean = run_tap({**config, "batch_config": batch_config(tmp_path / "clean", "gzip")})
    clean_records = batch_records(clean)

    with open(tmp_path / "stderr.log", "w") as stderr:
        process = subprocess.Popen(
            [TAP_EXECUTABLE, "--config", str(write_json(tmp_path / "config.json", config))],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert process.stdout is not None
        lines, states = [], 0
        for line in process.stdout:
            lines.append(line)
            states += json.loads(line)["type"] == "STATE"
            if states == 3:
                process.send_signal(signal.SIGKILL)
                break
        lines.extend(process.stdout)
        assert process.wait(timeout=60) == -9
    # A loader commits the files announced before the last STATE it saw.
    committed = TapOutput.parse("".join(lines)).committed()
    done = bookmark_days(committed.final_state)["transactions"]
    assert DAYS[2] <= done < END, "the kill must land inside the window"
    loaded = batch_records(committed)
    left_by_kill = {path for path in root.iterdir() if path.suffix != ".lock"}
    assert left_by_kill >= set(manifest_paths(committed))

    resumed = run_tap(config, state=committed.final_state)
    assert bookmark_days(resumed.final_state)["transactions"] == END
    assert not left_by_kill & set(root.iterdir()), "the resumed run deleted the leftovers"
    resumed_records = batch_records(resumed)
    for stream in ("transactions", "customers"):
        merged = by_key(loaded[stream], stream) | by_key(resumed_records[stream], stream)
        assert merged == by_key(clean_records[stream], stream), stream
    keys = [row["transaction_key"] for row in loaded["transactions"]]
    keys += [row["transaction_key"] for row in resumed_records["transactions"]]
    assert len(keys) == len(set(keys)), "no transaction is loaded twice"
    days = [row["extraction_date"] for row in loaded["extraction_log"]]
    days += [row["extraction_date"] for row in resumed_records["extraction_log"]]
    assert days == DAYS
