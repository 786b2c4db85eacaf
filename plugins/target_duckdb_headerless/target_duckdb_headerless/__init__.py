"""Run target-duckdb 0.8.0 with its CSV staging files read as headerless.

target-duckdb writes each batch to a CSV file without a header and loads it with
``COPY <table> FROM '<file>' WITH (new_line '\\r\\n')``. DuckDB >= 1.1 sniffs for a header
in that statement and may take the first data row for one, dropping a record per stream
per batch. Wrapping the connection adds ``HEADER false`` to those statements and leaves
every other call untouched; the database file's folder is created when missing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import target_duckdb

_COPY_FROM_WITH = re.compile(r"^(\s*COPY\s+.+?\s+FROM\s+'[^']*'\s+WITH\s*\()", re.I | re.S)


def headerless(query: str) -> str:
    """``query`` with ``HEADER false`` added when it is a ``COPY ... FROM ... WITH (...)``."""
    if not isinstance(query, str) or re.search(r"\bHEADER\b", query, re.I):
        return query
    return _COPY_FROM_WITH.sub(r"\1HEADER false, ", query, count=1)


class HeaderlessCopyConnection:
    """A DuckDB connection whose COPY ... FROM statements never detect a header."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return self._connection.execute(headerless(query), *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def main() -> None:
    """target-duckdb's own entry point, with the wrapped connection."""
    connect = target_duckdb.duckdb_connect

    def duckdb_connect(config: dict[str, Any]) -> HeaderlessCopyConnection:
        # output/ is not in the repository: a fresh clone gets its folder on the first load.
        path = config.get("path") or config.get("filepath") or ""
        if path and path != ":memory:" and ":" not in path.split("/")[0]:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return HeaderlessCopyConnection(connect(config))

    target_duckdb.duckdb_connect = duckdb_connect
    target_duckdb.main()
