"""The DuckDB side: tables in the raw schema, and appends inside one transaction per flush."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from target_duckdb_append.columns import BATCHED_AT, TableSpec, literal, quote

logger = logging.getLogger("target-duckdb-append")

# The largest record line DuckDB's JSON reader is asked to take (its maximum_object_size,
# whose default this is). The reader allocates a buffer of twice this size, which must fit
# under memory_limit: 64 MiB here needed a limit of 256MB (docs/tuning.md). The largest
# line this project writes is a quarantine row, whose raw_line holds a rejected API line
# that the tap caps at 1 MiB (about 5 MiB once escaped). A line the reader cannot take (it
# reads up to about twice this) fails the load with one line naming it (diagnose.explain).
MAX_OBJECT_BYTES = 16 * 1024 * 1024
# Full row groups an open transaction buffers before writing them to the database file.
WRITE_BUFFER_ROW_GROUPS = 1


def utc_now() -> datetime:
    """Now in UTC, without a time zone (the raw tables' TIMESTAMP columns are UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Warehouse:
    """One DuckDB connection to the warehouse file, writing the raw tables of one schema."""

    def __init__(
        self,
        path: str,
        schema: str,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        checkpoint_threshold: str | None = None,
    ) -> None:
        self.schema = schema
        if not path.startswith(("md:", "motherduck:", ":memory:")):
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(path)
        # TIMESTAMPTZ values read from JSON become UTC wall-clock TIMESTAMPs.
        self.con.execute("SET TimeZone = 'UTC'")
        # A transaction's rows, appended by one INSERT per batch file, are compressed into
        # the file five full row groups (614,400 rows) at a time by default, so a load
        # smaller than that did all its compression in the commit at the end, after the tap
        # had finished. With one, each row group is written as soon as it is full, while the
        # source is still sending: a shorter final commit for the same CPU (docs/tuning.md).
        self.con.execute(f"SET write_buffer_row_group_count = {WRITE_BUFFER_ROW_GROUPS}")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute(f"SET memory_limit = {literal(memory_limit)}")
        if checkpoint_threshold:
            # Commits below it only append to the write-ahead log (durable: DuckDB replays
            # it on the next open); the data is compressed into the file at the commit that
            # crosses it and at the end of the input, not at every commit.
            self.con.execute(f"SET checkpoint_threshold = {literal(checkpoint_threshold)}")
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        self.in_transaction = False
        self._last_batched_at: datetime | None = None

    def qualified(self, spec: TableSpec) -> str:
        return f"{quote(self.schema)}.{quote(spec.table)}"

    def _columns(self, spec: TableSpec) -> dict[str, str]:
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [self.schema, spec.table],
        ).fetchall()
        return {name.lower(): data_type.upper() for name, data_type in rows}

    def ensure_table(self, spec: TableSpec) -> None:
        """Create the stream's table, or evolve it to the schema (own transaction)."""
        qualified = self.qualified(spec)
        existing = self._columns(spec)
        if not existing:
            logger.info("Creating table %s", qualified)
            self.con.execute(spec.create_sql(qualified))
            return
        statements = []
        stamp = time.strftime("%Y%m%d_%H%M")
        for column in spec.columns:
            current = existing.get(column.name)
            if current is None:
                statements.append(
                    f"ALTER TABLE {qualified} ADD COLUMN {quote(column.name)} {column.type}"
                )
            elif current != column.type:
                # The old values stay, under a versioned name: a load never loses a value.
                statements.append(
                    f"ALTER TABLE {qualified} RENAME COLUMN {quote(column.name)} "
                    f"TO {quote(f'{column.name}_{stamp}')}"
                )
                statements.append(
                    f"ALTER TABLE {qualified} ADD COLUMN {quote(column.name)} {column.type}"
                )
        for statement in statements:
            logger.info("Evolving table: %s", statement)
            self.con.execute(statement)

    def latest_batched_at(self, spec: TableSpec) -> datetime | None:
        row = self.con.execute(
            f"SELECT max({quote(BATCHED_AT)}) FROM {self.qualified(spec)}"
        ).fetchone()
        return row[0] if row else None

    def begin(self, specs: list[TableSpec]) -> datetime:
        """Open the flush's transaction; returns its load time (_sdc_batched_at).

        The load time never goes back from one load to the next, even if the clock does,
        so dbt can use it as an incremental high-water mark.
        """
        if self._last_batched_at is None:
            stored = [t for t in (self.latest_batched_at(s) for s in specs) if t is not None]
            self._last_batched_at = max(stored, default=None)
        now = utc_now()
        if self._last_batched_at is not None and now <= self._last_batched_at:
            now = self._last_batched_at + timedelta(microseconds=1)
        self._last_batched_at = now
        self.con.execute("BEGIN TRANSACTION")
        self.in_transaction = True
        return now

    def append(
        self,
        spec: TableSpec,
        files: list[Path],
        *,
        wrapped: bool,
        compression: str,
        batched_at: datetime,
        extracted_at: datetime | None,
    ) -> int:
        """INSERT the rows of JSON-lines files into the stream's table; returns the count."""
        file_list = "[" + ", ".join(literal(str(f)) for f in files) + "]"
        select = spec.select_list(
            wrapped=wrapped,
            extracted_at=None if extracted_at is None else extracted_at.isoformat(sep=" "),
            batched_at=batched_at.isoformat(sep=" "),
        )
        names = ", ".join(quote(c.name) for c in spec.columns)
        sql = (
            f"INSERT INTO {self.qualified(spec)} ({names}) "
            f"SELECT {select} FROM read_ndjson({file_list}, "
            f"columns = {spec.json_columns(wrapped=wrapped)}, "
            f"compression = {literal('uncompressed' if compression == 'none' else compression)}, "
            f"maximum_object_size = {MAX_OBJECT_BYTES})"
        )
        row = self.con.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def commit(self) -> None:
        self.con.execute("COMMIT")
        self.in_transaction = False

    def rollback(self) -> None:
        if self.in_transaction:
            self.in_transaction = False
            self.con.execute("ROLLBACK")

    def checkpoint(self) -> None:
        """Write what the WAL holds into the database file."""
        self.con.execute("CHECKPOINT")

    def close(self) -> None:
        self.rollback()
        self.con.close()
