"""target-duckdb-append: a Singer target appending RECORD and BATCH messages to DuckDB.

Rows are appended to `<schema>.<stream>` (no merge: the raw layer may hold replays, staging
deduplicates). All rows since the last flush are written in one DuckDB transaction; a
STATE is passed on only once every row before it is committed.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
import time
import typing as t
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb
import orjson
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import PluginCapabilities

from target_duckdb_append.columns import TableSpec
from target_duckdb_append.diagnose import explain
from target_duckdb_append.errors import LoadError
from target_duckdb_append.reader import FastSingerReader
from target_duckdb_append.warehouse import Warehouse

if t.TYPE_CHECKING:
    from types import FrameType

COMPRESSIONS = ("none", "gzip")
CHECKPOINT_THRESHOLD = "128MB"
# A commit of at least one row group (122,880 rows) writes its rows compressed straight into
# the file; a smaller one goes through the write-ahead log, which the next checkpoint copies
# into the file. Fewer, larger commits cost less CPU (measured in docs/tuning.md).
BATCH_SIZE_ROWS = 300_000


class _Spool:
    """RECORD lines of one stream since the last flush, as they arrived."""

    def __init__(self, directory: Path, stream: str) -> None:
        self.path = directory / f"{stream.replace('/', '_')}.jsonl"
        self.handle: t.BinaryIO | None = None
        self.rows = 0
        self.first_record = 1  # this spool's first RECORD, counted over the whole run

    def write(self, line: bytes) -> None:
        if self.handle is None:
            self.handle = open(self.path, "wb", buffering=1 << 20)  # noqa: SIM115
        self.handle.write(line if line.endswith(b"\n") else line + b"\n")
        self.rows += 1

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def reset(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
        self.first_record += self.rows
        self.rows = 0


def _batch_path(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme not in ("", "file"):
        raise LoadError(f"batch file {url}: only local files (file://) can be loaded")
    return Path(unquote(parsed.path))


def _mtime_utc(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(tzinfo=None)


class TargetDuckdbAppend(Target):
    """Append-only Singer target for DuckDB that loads BATCH files and RECORDs with read_json."""

    name = "target-duckdb-append"
    message_reader_class = FastSingerReader
    capabilities: t.ClassVar[list] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.BATCH,
    ]
    config_jsonschema = th.PropertiesList(
        th.Property(
            "path",
            th.StringType,
            required=True,
            description="Path of the DuckDB database file (its folder is created if missing).",
        ),
        th.Property(
            "default_target_schema",
            th.StringType,
            default="raw",
            description="Schema the stream tables are created in.",
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType,
            default=BATCH_SIZE_ROWS,
            description=(
                "Rows received (RECORD or BATCH) after which the target commits them and "
                "passes on the latest STATE. Also committed at the end of the input."
            ),
        ),
        th.Property(
            "max_batch_age_seconds",
            th.IntegerType,
            default=300,
            description=(
                "On a STATE, commit what is pending if the oldest uncommitted row is older "
                "than this, so a slow source still saves its progress."
            ),
        ),
        th.Property(
            "threads",
            th.IntegerType,
            description="DuckDB threads for reading and inserting (DuckDB's default if unset).",
        ),
        th.Property(
            "checkpoint_threshold",
            th.StringType,
            default=CHECKPOINT_THRESHOLD,
            description=(
                "DuckDB checkpoint_threshold: the write-ahead log size at which a commit "
                "also checkpoints. Below it a commit only appends to the WAL (durable, "
                "replayed on the next open), so the rows are compressed into the database "
                "file every few commits and once more when the input ends, not at every "
                "commit (DuckDB's 16MB default)."
            ),
        ),
        th.Property(
            "memory_limit",
            th.StringType,
            description="DuckDB memory limit, e.g. '2GB' (DuckDB's default if unset).",
        ),
        th.Property(
            "spool_dir",
            th.StringType,
            description=(
                "Folder for the per-stream files RECORD messages are spooled to between "
                "commits (a temporary folder under the system's temp dir if unset)."
            ),
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        kwargs["setup_mapper"] = False  # stream maps are not supported: records pass as is
        super().__init__(*args, **kwargs)
        self._specs: dict[str, TableSpec] = {}
        self._schema_messages: dict[str, dict] = {}
        self._spools: dict[str, _Spool] = {}
        self._spool_dir: Path | None = None
        self._warehouse: Warehouse | None = None
        self._batched_at: datetime | None = None
        self._pending_rows = 0  # rows received since the last commit
        self._pending_by_stream: dict[str, int] = {}
        self._pending_since: float | None = None
        self._batch_files: list[Path] = []  # loaded in the open transaction, deleted on commit
        self._state: dict | None = None  # latest STATE received
        self._state_sent: dict | None = None
        self._rows_committed = 0

    # -- plumbing ---------------------------------------------------------------------

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """No SDK built-in settings: the target does not support the ones it would add."""

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:
        """The SDK's run of the target, with load errors reported on one line."""
        try:
            super().invoke(*args, **kwargs)
        except (LoadError, duckdb.Error) as exc:
            text = str(exc).strip().splitlines()
            cls.logger.error("%s", text[0] if text else repr(exc))
            raise SystemExit(1) from None

    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(
                str(self.config["path"]),
                self.config.get("default_target_schema") or "raw",
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

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # The SDK drains and writes the latest STATE here; rows not committed must not be
        # bookmarked, so stop: the open transaction rolls back when the connection closes.
        self.logger.warning(
            "Received %s: stopping without committing pending rows", signal.Signals(signum).name
        )
        raise SystemExit(128 + signum)

    def listen(self, file_input: t.IO | None = None) -> None:
        try:
            super().listen(file_input)
        finally:
            if self._warehouse is not None:
                self._warehouse.close()
            if self._spool_dir is not None:
                for spool in self._spools.values():
                    spool.close()
                shutil.rmtree(self._spool_dir, ignore_errors=True)

    def _spec(self, message: dict, kind: str) -> TableSpec:
        stream = message.get("stream")
        spec = self._specs.get(stream)  # type: ignore[arg-type]
        if spec is None:
            raise LoadError(
                f"{kind} for stream '{stream}' arrived before its SCHEMA message: "
                "expected a SCHEMA for every stream first"
            )
        return spec

    # -- messages ---------------------------------------------------------------------

    def _process_schema_message(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
        if not isinstance(stream, str) or not isinstance(message_dict.get("schema"), dict):
            raise LoadError("SCHEMA message: expected a 'stream' name and a 'schema' object")
        if self._schema_messages.get(stream) == message_dict:
            return  # taps repeat their SCHEMAs; nothing changed
        spec = TableSpec.from_schema_message(message_dict)
        if self._specs.get(stream) == spec:
            self._schema_messages[stream] = message_dict
            return
        if self._pending_rows or self._batched_at is not None:
            # Rows already received were read against the previous schema.
            self._flush()
        self.warehouse.ensure_table(spec)
        self._specs[stream] = spec
        self._schema_messages[stream] = message_dict

    def _process_record_message(self, message_dict: dict) -> None:
        spec = self._spec(message_dict, "RECORD")
        spool = self._spools.get(spec.stream)
        if spool is None:
            spool = self._spools[spec.stream] = _Spool(self.spool_dir, spec.stream)
        spool.write(self.message_reader.current_line)  # type: ignore[attr-defined]
        self._received(1, spec.stream)

    def _process_batch_message(self, message_dict: dict) -> None:
        spec = self._spec(message_dict, "BATCH")
        encoding = message_dict.get("encoding") or {}
        fmt, compression = encoding.get("format"), encoding.get("compression") or "none"
        if fmt != "jsonl" or compression not in COMPRESSIONS:
            raise LoadError(
                f"stream '{spec.stream}': BATCH encoding {fmt}/{compression} is not supported: "
                "expected format jsonl with compression none or gzip"
            )
        manifest = message_dict.get("manifest")
        if not isinstance(manifest, list):
            raise LoadError(f"stream '{spec.stream}': BATCH message without a 'manifest' list")
        for url in manifest:
            path = _batch_path(url)
            try:
                extracted_at = _mtime_utc(path)
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise LoadError(
                    f"stream '{spec.stream}': batch file {path} cannot be read: {exc.strerror}"
                ) from exc
            rows = self._append(
                spec,
                [path],
                wrapped=False,
                compression=compression,
                extracted_at=extracted_at,
                describe=lambda file, line: f"batch file {file} line {line}",
            )
            self._batch_files.append(path)
            self._received(rows, spec.stream)

    def _process_state_message(self, message_dict: dict) -> None:
        if "value" not in message_dict:
            raise LoadError("STATE message without a 'value'")
        self._state = message_dict["value"]
        if not self._pending_rows:
            self._send_state()
        elif (
            self._pending_since is not None
            and time.monotonic() - self._pending_since
            >= self.config.get("max_batch_age_seconds", 300)
        ):
            self._flush()

    def _process_activate_version_message(self, message_dict: dict) -> None:
        self.logger.warning(
            "ACTIVATE_VERSION for stream '%s' ignored: the target only appends",
            message_dict.get("stream"),
        )

    def process_endofpipe(self) -> None:
        self._flush()
        self.logger.info("Committed %d rows in total", self._rows_committed)
        if self._warehouse is not None:
            started = time.monotonic()
            self._warehouse.checkpoint()
            self.logger.info("Checkpointed the database in %.2f s", time.monotonic() - started)

    # -- loading ----------------------------------------------------------------------

    def _received(self, rows: int, stream: str) -> None:
        if self._pending_since is None:
            self._pending_since = time.monotonic()
        self._pending_rows += rows
        self._pending_by_stream[stream] = self._pending_by_stream.get(stream, 0) + rows
        if self._pending_rows >= self.config.get("batch_size_rows", BATCH_SIZE_ROWS):
            self._flush()

    def _begin(self) -> datetime:
        if self._batched_at is None:
            self._batched_at = self.warehouse.begin(list(self._specs.values()))
        return self._batched_at

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
        batched_at = self._begin()
        try:
            return self.warehouse.append(
                spec,
                files,
                wrapped=wrapped,
                compression=compression,
                batched_at=batched_at,
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

    def _flush(self) -> None:
        """Append the spooled RECORDs, commit everything pending, then pass the STATE on."""
        started = time.monotonic()
        for stream, spool in self._spools.items():
            if not spool.rows:
                continue
            spool.close()
            loaded = self._append(
                self._specs[stream],
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
        self._rows_committed += rows
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


if __name__ == "__main__":
    TargetDuckdbAppend.cli()
