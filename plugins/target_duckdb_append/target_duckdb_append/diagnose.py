"""Turn a failed DuckDB load into one line naming the stream, the field and what was expected.

Only runs after a load failed, so it may read the offending file again in Python.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any

import orjson

from target_duckdb_append.columns import Column, TableSpec
from target_duckdb_append.warehouse import MAX_OBJECT_BYTES

_FILE_LINE = re.compile(r'in file "(?P<file>[^"]+)", in line (?P<line>\d+)')
_SHOWN = 60


def _lines(path: Path, compression: str) -> Iterator[bytes]:
    opener = gzip.open if compression == "gzip" else open
    with opener(path, "rb") as handle:
        yield from handle


def _shown(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_time(value: str) -> bool:
    try:
        time.fromisoformat(value)
    except ValueError:
        return False
    return True


def _expected(column: Column) -> str:
    fmt = column.prop.get("format")
    declared = column.prop.get("type", [])
    types = [declared] if isinstance(declared, str) else list(declared)
    text = " or ".join(t for t in types if t != "null") or "any value"
    return f"{text} ({fmt})" if fmt in ("date-time", "time") else text


def field_problem(column: Column, value: Any, *, key: bool) -> str | None:
    """Why a record's value does not fit its column, or None when it does."""
    if value is None:
        return "a value (it is a key property), got null" if key else None
    declared = column.prop.get("type", [])
    types = [declared] if isinstance(declared, str) else list(declared)
    ok = (
        ("string" in types and isinstance(value, str))
        or ("number" in types and isinstance(value, (int, float)) and not isinstance(value, bool))
        or ("integer" in types and isinstance(value, int) and not isinstance(value, bool))
        or ("boolean" in types and isinstance(value, bool))
        or ("object" in types and isinstance(value, dict))
        or ("array" in types and isinstance(value, list))
        or not types
    )
    if ok and isinstance(value, str) and column.type == "TIMESTAMP":
        ok = _is_datetime(value)
    if ok and isinstance(value, str) and column.type == "TIME":
        ok = _is_time(value)
    if ok and column.type in ("SMALLINT", "INTEGER", "BIGINT", "HUGEINT"):
        ok = isinstance(value, int)
    if ok:
        return None
    return f"{_expected(column)}, got {_shown(value)}"


def record_problem(spec: TableSpec, record: Any) -> str | None:
    """The first field of a record that does not fit the stream's table, explained."""
    if not isinstance(record, dict):
        return f"a JSON object per record, got {_shown(record)}"
    for column in spec.record_columns:
        present = column.field in record
        if not present and column.name in spec.key_columns:
            return f"field '{column.field}': a value (it is a key property), got no field"
        problem = field_problem(
            column, record.get(column.field), key=column.name in spec.key_columns
        )
        if problem is not None:
            return f"field '{column.field}': expected {problem}"
    return None


def _too_large(
    spec: TableSpec, files: list[Path], compression: str, describe: Callable[[Path, int], str]
) -> str | None:
    """The longest line of the files explained, if it is over MAX_OBJECT_BYTES."""
    longest: tuple[Path, int, int] | None = None
    for path in files:
        for number, raw in enumerate(_lines(path, compression), start=1):
            size = len(raw.rstrip(b"\r\n"))
            if size > MAX_OBJECT_BYTES and (longest is None or size > longest[2]):
                longest = (path, number, size)
    if longest is None:
        return None
    path, number, size = longest
    return (
        f"stream '{spec.stream}': {describe(path, number)} is {size / 2**20:.1f} MiB: expected "
        f"a record of at most {MAX_OBJECT_BYTES / 2**20:.0f} MiB (the loader's "
        "maximum_object_size for DuckDB's JSON reader)"
    )


def explain(
    spec: TableSpec,
    files: list[Path],
    *,
    compression: str,
    wrapped: bool,
    describe: Callable[[Path, int], str],
    error: Exception,
) -> str:
    """One line explaining why loading `files` into the stream's table failed.

    describe: names a file's line for the user (e.g. "batch file /x.jsonl line 3" or
    "RECORD message 12 of stream 'x' in this run").
    """
    message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    if "maximum_object_size" in message:
        # DuckDB names the file, not the line, and a size the user never set.
        too_large = _too_large(spec, files, compression, describe)
        if too_large is not None:
            return too_large
    # DuckDB names the file, but its line number may be off: the whole file is checked.
    located = _FILE_LINE.search(str(error))
    named = [Path(located["file"])] if located else []
    for path in [p for p in named if p in files] or files:
        for number, raw in enumerate(_lines(path, compression), start=1):
            where = describe(path, number)
            try:
                loaded = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                return f"stream '{spec.stream}': {where} is not valid JSON ({exc})"
            record = loaded.get("record") if wrapped and isinstance(loaded, dict) else loaded
            problem = record_problem(spec, record)
            if problem is not None:
                return f"stream '{spec.stream}': {where}: {problem}"
    return f"stream '{spec.stream}': DuckDB could not load the rows: {message}"
