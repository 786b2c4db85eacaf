"""What the target received since its last commit, and the commit that passes STATE on.

Rows since the last flush are written in one DuckDB transaction: BATCH files as they
arrive, spooled RECORDs at the flush. A STATE is passed on (to stdout) only once every row
received before it is committed.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import duckdb
import orjson

from target_duckdb_append.batch import BatchFile
from target_duckdb_append.columns import TableSpec
from target_duckdb_append.diagnose import explain
from target_duckdb_append.errors import LoadError
from target_duckdb_append.settings import (
    BATCH_SIZE_ROWS,
    CHECKPOINT_THRESHOLD,
    DEFAULT_SCHEMA,
    MAX_BATCH_AGE_SECONDS,
)
from target_duckdb_append.spool import Spool
from target_duckdb_append.warehouse import Warehouse

if t.TYPE_CHECKING:
    from datetime import datetime


class Load:
    """The target's loading, from its settings: tables, pending rows, commits and STATE."""

    def __init__(self, config: t.Mapping[str, t.Any], logger: logging.Logger) -> None:
        self.config = config
        self.logger = logger
        self.batch_size_rows = int(config.get("batch_size_rows", BATCH_SIZE_ROWS))
        self.max_batch_age = float(config.get("max_batch_age_seconds", MAX_BATCH_AGE_SECONDS))
        self.specs: dict[str, TableSpec] = {}
        self._schema_messages: dict[str, dict] = {}
        self._spools: dict[str, Spool] = {}
        self._spool_dir: Path | None = None
        self._warehouse: Warehouse | None = None
        self._batched_at: datetime | None = None  # load time of the open transaction
        self._pending_rows = 0  # rows received since the last commit
        self._pending_by_stream: dict[str, int] = {}
        self._pending_since: float | None = None
        self._batch_files: list[Path] = []  # loaded in the open transaction, deleted on commit
        self._state: dict | None = None  # latest STATE received
        self._state_sent: dict | None = None
        self.rows_committed = 0

    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(
                str(self.config["path"]),
                self.config.get("default_target_schema") or DEFAULT_SCHEMA,
                threads=self.config.get("threads"),
                memory_limit=self.config.get("memory_limit"),
                checkpoint_threshold=self.config.get("checkpoint_threshold", CHECKPOINT_THRESHOLD),
            )
        return self._warehouse

    @property
    def spool_dir(self) -> Path:
        if self._spool_dir is None:
            parent = self.config.get("spool_dir")
            if parent:
                Path(parent).mkdir(parents=True, exist_ok=True)
            self._spool_dir = Path(tempfile.mkdtemp(prefix="target-duckdb-append-", dir=parent))
        return self._spool_dir

    def spec(self, message: dict, kind: str) -> TableSpec:
        """The table of the message's stream; a stream without a SCHEMA yet is refused."""
        stream = message.get("stream")
        spec = self.specs.get(stream)  # type: ignore[arg-type]
        if spec is None:
            raise LoadError(
                f"{kind} for stream '{stream}' arrived before its SCHEMA message: "
                "expected a SCHEMA for every stream first"
            )
        return spec

    def schema(self, message: dict) -> None:
        """Create or evolve the stream's table (after committing rows read with the old one)."""
        stream = message.get("stream")
        if not isinstance(stream, str) or not isinstance(message.get("schema"), dict):
            raise LoadError("SCHEMA message: expected a 'stream' name and a 'schema' object")
        if self._schema_messages.get(stream) == message:
            return  # taps repeat their SCHEMAs; nothing changed
        spec = TableSpec.from_schema_message(message)
        if self.specs.get(stream) == spec:
            self._schema_messages[stream] = message
            return
        if self._pending_rows or self._batched_at is not None:
            # Rows already received were read against the previous schema.
            self.flush()
        self.warehouse.ensure_table(spec)
        self.specs[stream] = spec
        self._schema_messages[stream] = message

    def record(self, spec: TableSpec, line: bytes) -> None:
        """Spool a RECORD line as it arrived; DuckDB reads it at the flush."""
        spool = self._spools.get(spec.stream)
        if spool is None:
            spool = self._spools[spec.stream] = Spool(self.spool_dir, spec.stream)
        spool.write(line)
        self._received(1, spec.stream)

    def batch(self, spec: TableSpec, files: list[BatchFile]) -> None:
        """Insert a BATCH message's files into the open transaction now."""
        for file in files:
            rows = self._append(
                spec,
                [file.path],
                wrapped=False,
                compression=file.compression,
                extracted_at=file.extracted_at,
                describe=lambda path, line: f"batch file {path} line {line}",
            )
            self._batch_files.append(file.path)
            self._received(rows, spec.stream)

    def state(self, value: dict) -> None:
        """Pass the STATE on at once if nothing is pending, else at the commit."""
        self._state = value
        if not self._pending_rows:
            self._send_state()
        elif (
            self._pending_since is not None
            and time.monotonic() - self._pending_since >= self.max_batch_age
        ):
            self.flush()

    def finish(self) -> None:
        """At the end of the input: commit, then write the WAL into the database file."""
        self.flush()
        self.logger.info("Committed %d rows in total", self.rows_committed)
        if self._warehouse is not None:
            started = time.monotonic()
            self._warehouse.checkpoint()
            self.logger.info("Checkpointed the database in %.2f s", time.monotonic() - started)

    def close(self) -> None:
        """Roll back what is not committed and remove the spool files."""
        if self._warehouse is not None:
            self._warehouse.close()
        if self._spool_dir is not None:
            for spool in self._spools.values():
                spool.close()
            shutil.rmtree(self._spool_dir, ignore_errors=True)

    def _received(self, rows: int, stream: str) -> None:
        if self._pending_since is None:
            self._pending_since = time.monotonic()
        self._pending_rows += rows
        self._pending_by_stream[stream] = self._pending_by_stream.get(stream, 0) + rows
        if self._pending_rows >= self.batch_size_rows:
            self.flush()

    def _append(
        self,
        spec: TableSpec,
        files: list[Path],
        *,
        wrapped: bool,
        compression: str,
        extracted_at: datetime | None,
        describe: t.Callable[[Path, int], str],
    ) -> int:
        if self._batched_at is None:
            self._batched_at = self.warehouse.begin(list(self.specs.values()))
        try:
            return self.warehouse.append(
                spec,
                files,
                wrapped=wrapped,
                compression=compression,
                batched_at=self._batched_at,
                extracted_at=extracted_at,
            )
        except duckdb.Error as exc:
            self.warehouse.rollback()
            raise LoadError(
                explain(
                    spec,
                    files,
                    compression=compression,
                    wrapped=wrapped,
                    describe=describe,
                    error=exc,
                )
            ) from exc

    def flush(self) -> None:
        """Append the spooled RECORDs, commit everything pending, then pass the STATE on."""
        started = time.monotonic()
        for stream, spool in self._spools.items():
            if not spool.rows:
                continue
            spool.close()
            loaded = self._append(
                self.specs[stream],
                [spool.path],
                wrapped=True,
                compression="none",
                extracted_at=None,
                describe=lambda _file, line, first=spool.first_record, name=stream: (
                    f"RECORD message {first + line - 1} of stream '{name}' in this run"
                ),
            )
            if loaded != spool.rows:
                self.warehouse.rollback()
                raise LoadError(
                    f"stream '{stream}': {spool.rows} RECORD messages spooled but "
                    f"{loaded} rows read back from {spool.path}"
                )
        if self._batched_at is not None:
            self.warehouse.commit()
            self._batched_at = None
        for spool in self._spools.values():
            spool.reset()
        for path in self._batch_files:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        rows, self._pending_rows, self._pending_since = self._pending_rows, 0, None
        counts, self._pending_by_stream = self._pending_by_stream, {}
        self._batch_files = []
        self.rows_committed += rows
        if rows:
            self.logger.info(
                "Committed %d rows (%s); the commit took %.2f s",
                rows,
                ", ".join(f"{stream}: {n}" for stream, n in sorted(counts.items())),
                time.monotonic() - started,
            )
        self._send_state()

    def _send_state(self) -> None:
        if self._state is None or self._state == self._state_sent:
            return
        sys.stdout.buffer.write(orjson.dumps(self._state) + b"\n")
        sys.stdout.flush()
        self._state_sent = self._state
