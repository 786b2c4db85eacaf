"""target-duckdb-append end to end: Singer messages in, rows in a DuckDB file, STATE out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from target_duckdb_append.warehouse import MAX_OBJECT_BYTES

from conftest import Loader, batch, record, schema, state

ORDERS = schema(
    "orders",
    {
        "order_key": {"type": ["string"]},
        "amount": {"type": ["number"]},
        "items": {"type": ["integer", "null"]},
        "small": {"type": ["integer"], "maximum": 100},
        "paid": {"type": ["boolean"]},
        "placed_at": {"type": ["string"], "format": "date-time"},
        "placed_on": {"type": ["string"], "format": "date"},
        "Extra": {"type": ["object", "null"], "properties": {}},
    },
    ["order_key"],
)


def order(n: int, **overrides: object) -> dict:
    values = {
        "order_key": f"o{n}",
        "amount": 10.5 + n,
        "items": n,
        "small": 1,
        "paid": n % 2 == 0,
        "placed_at": "2024-11-25T10:00:00+02:00",
        "placed_on": "2024-11-25",
        "Extra": {"n": n},
    }
    values.update(overrides)
    return values


def test_records_become_typed_rows_and_the_state_follows(loader: Loader) -> None:
    run = loader.run(
        [
            ORDERS,
            record("orders", order(1), "2024-11-26T00:00:01+00:00"),
            record("orders", order(2), "2024-11-26T00:00:02+00:00"),
            state("2024-11-25"),
        ]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.states == [state("2024-11-25")["value"]]
    # Names and types: sorted, lowercased, keys NOT NULL, no primary key.
    assert loader.query(
        "SELECT column_name, data_type, is_nullable FROM "
        "information_schema.columns WHERE table_name = 'orders' "
        "ORDER BY ordinal_position"
    ) == [
        ("_sdc_batched_at", "TIMESTAMP", "YES"),
        ("_sdc_deleted_at", "VARCHAR", "YES"),
        ("_sdc_extracted_at", "TIMESTAMP", "YES"),
        ("amount", "DOUBLE", "YES"),
        ("extra", "JSON", "YES"),
        ("items", "HUGEINT", "YES"),
        ("order_key", "VARCHAR", "NO"),
        ("paid", "BOOLEAN", "YES"),
        ("placed_at", "TIMESTAMP", "YES"),
        ("placed_on", "VARCHAR", "YES"),
        ("small", "SMALLINT", "YES"),
    ]
    assert loader.query(
        "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
    ) == [(0,)]
    rows = loader.query(
        "SELECT order_key, amount, items, paid, placed_at, placed_on, extra::VARCHAR, "
        "_sdc_extracted_at FROM raw.orders ORDER BY 1"
    )
    assert rows == [
        (
            "o1",
            11.5,
            1,
            False,
            datetime(2024, 11, 25, 8),
            "2024-11-25",
            '{"n":1}',
            datetime(2024, 11, 26, 0, 0, 1),
        ),
        (
            "o2",
            12.5,
            2,
            True,
            datetime(2024, 11, 25, 8),
            "2024-11-25",
            '{"n":2}',
            datetime(2024, 11, 26, 0, 0, 2),
        ),
    ]
    (batched,) = loader.query("SELECT DISTINCT _sdc_batched_at FROM raw.orders")
    assert batched[0] is not None


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_batch_files_are_loaded_and_deleted_after_commit(loader: Loader, compression: str) -> None:
    gzipped = compression == "gzip"
    first = loader.write_batch("a.jsonl", [order(1), order(2)], gzipped=gzipped)
    second = loader.write_batch("b.jsonl", [order(3)], gzipped=gzipped)
    os.utime(first, (1732600000, 1732600000))
    run = loader.run(
        [
            ORDERS,
            batch("orders", first, compression=compression),
            state("2024-11-25"),
            batch("orders", second, compression=compression),
            state("2024-11-26"),
        ]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.states == [state("2024-11-26")["value"]]
    assert loader.query("SELECT order_key, amount FROM raw.orders ORDER BY 1") == [
        ("o1", 11.5),
        ("o2", 12.5),
        ("o3", 13.5),
    ]
    # A batch file's rows were extracted when the tap wrote the file.
    assert loader.query(
        "SELECT DISTINCT _sdc_extracted_at FROM raw.orders WHERE order_key < 'o3'"
    ) == [(datetime(2024, 11, 26, 5, 46, 40),)]
    assert not first.exists() and not second.exists()


def test_state_is_passed_on_only_once_its_rows_are_committed(loader: Loader) -> None:
    bad = record("orders", order(4, amount="a lot"))
    run = loader.run(
        [
            ORDERS,
            record("orders", order(1)),
            state("2024-11-25"),
            record("orders", order(2)),  # the second pending row: commit, then the STATE
            record("orders", order(3)),
            state("2024-11-26"),
            bad,
        ],
        batch_size_rows=2,
    )
    assert run.returncode != 0
    # The rows of 2024-11-26 never committed, so its STATE never left the target...
    assert run.states == [state("2024-11-25")["value"]]
    # ...and what was committed before the failure stays.
    assert loader.query("SELECT order_key FROM raw.orders ORDER BY 1") == [("o1",), ("o2",)]
    assert run.errors and len(run.errors) == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert (
        "stream 'orders': RECORD message 4 of stream 'orders' in this run: "
        "field 'amount': expected number, got \"a lot\"" in run.errors[0]
    )


def test_a_commit_survives_kill_9_before_the_database_is_checkpointed(loader: Loader) -> None:
    """Commits only append to the WAL (checkpoint_threshold); a kill loses none of them."""
    config = loader.workdir / "config.json"
    config.write_text(json.dumps({**loader.config, "batch_size_rows": 2}))
    target = subprocess.Popen(
        [sys.executable, "-m", "target_duckdb_append.target", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert target.stdin is not None and target.stdout is not None
    for message in (ORDERS, record("orders", order(1)), state("2024-11-25")):
        target.stdin.write(json.dumps(message).encode() + b"\n")
    target.stdin.write(json.dumps(record("orders", order(2))).encode() + b"\n")
    target.stdin.flush()
    # The second row reaches batch_size_rows: the commit, then the STATE.
    assert json.loads(target.stdout.readline()) == state("2024-11-25")["value"]
    target.stdin.write(json.dumps(record("orders", order(3))).encode() + b"\n")
    target.stdin.flush()
    wal = loader.database.with_name(loader.database.name + ".wal")
    assert wal.exists() and wal.stat().st_size > 0, "the commit should be in the WAL only"
    target.kill()
    target.wait(timeout=30)
    # The committed rows are replayed from the WAL; the uncommitted third row is gone.
    assert loader.query("SELECT order_key FROM raw.orders ORDER BY 1") == [("o1",), ("o2",)]


def test_the_end_of_the_input_checkpoints_the_database(loader: Loader) -> None:
    run = loader.run([ORDERS, record("orders", order(1)), state("2024-11-25")])
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Checkpointed the database" in run.stderr
    assert not loader.database.with_name(loader.database.name + ".wal").exists()


def test_a_state_with_nothing_pending_is_passed_on_at_once(loader: Loader) -> None:
    run = loader.run([ORDERS, state("2024-11-25"), state("2024-11-25"), state("2024-11-26")])
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.states == [state("2024-11-25")["value"], state("2024-11-26")["value"]]


def test_a_record_before_its_schema_is_refused(loader: Loader) -> None:
    run = loader.run([record("orders", order(1))])
    assert run.returncode != 0
    assert len(run.errors) == 1 and "Traceback" not in run.stderr
    assert "RECORD for stream 'orders' arrived before its SCHEMA message" in run.errors[0]


@pytest.mark.parametrize(
    ("bad_record", "expected"),
    [
        pytest.param(
            lambda: order(3, placed_at="yesterday"),
            "line 2: field 'placed_at': expected string (date-time), got \"yesterday\"",
            id="a bad value names file, line and field",
        ),
        pytest.param(
            # DuckDB's buffer holds twice maximum_object_size: only a longer line fails.
            lambda: order(3, order_key="o3" + "x" * (2 * MAX_OBJECT_BYTES)),
            "line 2 is 32.0 MiB: expected a record of at most 16 MiB (the loader's "
            "maximum_object_size for DuckDB's JSON reader)",
            id="a record too large for the JSON reader names its line",
        ),
    ],
)
def test_a_bad_line_in_a_batch_file_fails_in_one_line_and_keeps_what_was_committed(
    loader: Loader, bad_record: Callable[[], dict[str, Any]], expected: str
) -> None:
    good = loader.write_batch("good.jsonl", [order(1)])
    bad = loader.write_batch("bad.jsonl", [order(2), bad_record()])
    run = loader.run(
        [ORDERS, batch("orders", good), state("2024-11-25"), batch("orders", bad)],
        batch_size_rows=1,
    )
    assert run.returncode != 0
    assert run.states == [state("2024-11-25")["value"]]
    assert loader.query("SELECT order_key FROM raw.orders") == [("o1",)]
    assert len(run.errors) == 1 and "Traceback" not in run.stderr
    assert f"stream 'orders': batch file {bad} {expected}" in run.errors[0]
    # The failed file is kept for a retry; the committed one is gone.
    assert bad.exists() and not good.exists()


def test_a_missing_key_is_refused(loader: Loader) -> None:
    values = order(1)
    del values["order_key"]
    run = loader.run([ORDERS, record("orders", values)])
    assert run.returncode != 0
    assert len(run.errors) == 1
    assert "field 'order_key': a value (it is a key property), got no field" in run.errors[0]
    assert loader.query("SELECT count(*) FROM raw.orders") == [(0,)]


def test_an_unreadable_batch_file_is_named(loader: Loader) -> None:
    missing = loader.workdir / "batches" / "gone.jsonl"
    run = loader.run([ORDERS, batch("orders", missing)])
    assert run.returncode != 0
    assert len(run.errors) == 1
    assert f"stream 'orders': batch file {missing} cannot be read" in run.errors[0]


def test_an_unsupported_batch_encoding_is_refused(loader: Loader) -> None:
    path = loader.write_batch("a.parquet", [order(1)])
    message = batch("orders", path)
    message["encoding"]["format"] = "parquet"
    run = loader.run([ORDERS, message])
    assert run.returncode != 0
    assert "expected format jsonl with compression none or gzip" in run.errors[0]


def test_a_line_that_is_not_json_is_refused(loader: Loader) -> None:
    run = loader.run([ORDERS, '{"type": "RECORD", "stream": "orders", "record": '])
    assert run.returncode != 0
    assert len(run.errors) == 1 and "input line 2 is not valid JSON" in run.errors[0]


def test_the_schema_evolves_and_rows_are_appended(loader: Loader) -> None:
    first = loader.run([ORDERS, record("orders", order(1)), state("2024-11-25")])
    assert first.returncode == 0, first.stderr[-2000:]
    evolved = json.loads(json.dumps(ORDERS))
    evolved["schema"]["properties"]["coupon"] = {"type": ["string", "null"]}
    evolved["schema"]["properties"]["items"] = {"type": ["string", "null"]}
    second = loader.run(
        [
            evolved,
            record("orders", order(1, items="three", coupon="X1")),  # a replay: appended
            state("2024-11-26"),
        ]
    )
    assert second.returncode == 0, second.stderr[-2000:]
    columns = dict(
        loader.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'orders'"
        )
    )
    assert columns["coupon"] == "VARCHAR" and columns["items"] == "VARCHAR"
    (versioned,) = [name for name in columns if name.startswith("items_")]
    assert columns[versioned] == "HUGEINT"
    rows = loader.query(
        f"SELECT order_key, items, {versioned}, coupon FROM raw.orders ORDER BY _sdc_batched_at"
    )
    assert rows == [("o1", None, 1, None), ("o1", "three", None, "X1")]


def test_a_new_json_text_column_reaches_a_table_created_without_it(loader: Loader) -> None:
    # The tap's transactions gained `extra_fields` (JSON text, nullable): a raw table
    # created before it gets the column, and batch files fill it.
    first = loader.run([ORDERS, record("orders", order(1)), state("2024-11-25")])
    assert first.returncode == 0, first.stderr[-2000:]
    evolved = json.loads(json.dumps(ORDERS))
    evolved["schema"]["properties"]["extra_fields"] = {"type": ["string", "null"]}
    text = json.dumps({"merchant_tier": "gold", "rank": [1, 2]}, sort_keys=True)
    files = loader.write_batch(
        "drift.jsonl", [order(2, extra_fields=text), order(3, extra_fields=None)]
    )
    second = loader.run([evolved, batch("orders", files), state("2024-11-26")])
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.states == [state("2024-11-26")["value"]]
    types = dict(
        loader.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'orders'"
        )
    )
    assert types["extra_fields"] == "VARCHAR"
    assert loader.query("SELECT order_key, extra_fields FROM raw.orders ORDER BY 1") == [
        ("o1", None),
        ("o2", text),
        ("o3", None),
    ]


def test_load_time_never_goes_back_between_loads(loader: Loader) -> None:
    for n in range(3):
        run = loader.run([ORDERS, record("orders", order(n)), state(f"2024-11-2{n}")])
        assert run.returncode == 0, run.stderr[-2000:]
    stamps = [
        row[0] for row in loader.query("SELECT _sdc_batched_at FROM raw.orders ORDER BY order_key")
    ]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_about_describes_every_setting() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "target_duckdb_append.target", "--about", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    about = json.loads(completed.stdout)
    properties = about["settings"]["properties"]
    assert {"path", "batch_size_rows", "threads", "default_target_schema"} <= set(properties)
    assert all(p.get("description") for p in properties.values())
