"""The Warehouse against a real DuckDB file, below the Singer protocol."""

from __future__ import annotations

import json
from pathlib import Path

from target_duckdb_append.columns import TableSpec
from target_duckdb_append.warehouse import Warehouse

from conftest import schema

# DuckDB's rows per row group: the unit it compresses and writes to the database file.
ROW_GROUP_ROWS = 122_880

EVENTS = schema("events", {"event_key": {"type": ["string"]}, "n": {"type": ["integer"]}}, [])


def test_full_row_groups_reach_the_file_before_the_commit(tmp_path: Path) -> None:
    """A load compresses its rows while it runs, not all at the commit at its end.

    The target appends one file per BATCH message in one transaction; here 30 files of a
    day's size add up to a little over one row group.
    """
    day = tmp_path / "events.jsonl"
    day.write_text("".join(json.dumps({"event_key": f"e{n}", "n": n}) + "\n" for n in range(4200)))
    path = tmp_path / "test.duckdb"
    warehouse = Warehouse(str(path), "raw")
    try:
        spec = TableSpec.from_schema_message(EVENTS)
        warehouse.ensure_table(spec)
        warehouse.checkpoint()
        size_before = path.stat().st_size
        batched_at = warehouse.begin([spec])
        loaded = sum(
            warehouse.append(
                spec,
                [day],
                wrapped=False,
                compression="none",
                batched_at=batched_at,
                extracted_at=batched_at,
            )
            for _ in range(30)
        )
        assert loaded > ROW_GROUP_ROWS
        # Uncommitted, yet the first row group's blocks are already in the database file.
        assert path.stat().st_size > size_before
        warehouse.commit()
    finally:
        warehouse.close()
