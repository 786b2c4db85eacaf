"""One row of pipeline_runs, the table's columns, and the facts about a run's process."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

TABLE = "pipeline_runs"
STATUSES = ("running", "success", "failed", "killed")
ERROR_TAIL_LINES = 40

# (column, DuckDB type, BigQuery type); the table both warehouses hold.
COLUMNS = (
    ("run_id", "VARCHAR NOT NULL", "STRING NOT NULL"),
    ("job", "VARCHAR NOT NULL", "STRING NOT NULL"),
    ("environment", "VARCHAR NOT NULL", "STRING NOT NULL"),
    ("orchestrator", "VARCHAR NOT NULL", "STRING NOT NULL"),
    ("status", "VARCHAR NOT NULL", "STRING NOT NULL"),
    ("started_at", "TIMESTAMP NOT NULL", "TIMESTAMP NOT NULL"),
    ("ended_at", "TIMESTAMP", "TIMESTAMP"),
    ("current_step", "VARCHAR", "STRING"),
    ("failing_step", "VARCHAR", "STRING"),
    ("exit_code", "INTEGER", "INT64"),
    ("error_tail", "VARCHAR", "STRING"),
    ("days_loaded", "INTEGER", "INT64"),
    ("first_day", "DATE", "DATE"),
    ("last_day", "DATE", "DATE"),
    ("rows_loaded", "BIGINT", "INT64"),
    ("host", "VARCHAR", "STRING"),
    ("pid", "INTEGER", "INT64"),
    ("log_file", "VARCHAR", "STRING"),
)
# Columns a run's end does not rewrite.
IDENTITY = ("run_id", "job", "environment", "orchestrator", "started_at", "host", "pid")


def say(message: str) -> None:
    print(f"run_log: {message}", file=sys.stderr, flush=True)


def utc_now() -> datetime:
    """Now in UTC to the second, without tzinfo: the raw tables' TIMESTAMP columns hold UTC
    that way."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class Run:
    """One row of pipeline_runs."""

    run_id: str
    job: str
    environment: str
    orchestrator: str = "make"
    status: str = "running"
    started_at: datetime = field(default_factory=utc_now)
    ended_at: datetime | None = None
    current_step: str | None = None
    failing_step: str | None = None
    exit_code: int | None = None
    error_tail: str | None = None
    days_loaded: int | None = None
    first_day: date | None = None
    last_day: date | None = None
    rows_loaded: int | None = None
    host: str | None = field(default_factory=socket.gethostname)
    pid: int | None = field(default_factory=os.getpid)
    log_file: str | None = None


@dataclass(frozen=True)
class Loaded:
    """What a run loaded into raw: the extraction days and the transaction rows."""

    days: int
    first_day: date | None
    last_day: date | None
    rows: int


def process_alive(pid: int) -> bool:
    """Whether pid is a live process other than a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def read_tail(path: Path, lines: int = ERROR_TAIL_LINES) -> str | None:
    """The last lines of a log file (None when there is none)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    return "\n".join(text.splitlines()[-lines:]) or None
