"""pipeline_runs in schema `ops` of the DuckDB file the dev job loads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .record import COLUMNS, TABLE
from .store import RunLog

SCHEMA = "ops"


class DuckDBRunLog(RunLog):
    """ops.pipeline_runs in the DuckDB file the job loads (BNPL_DUCKDB_PATH); the tap's
    rows are read from its schema `raw`."""

    table = f"{SCHEMA}.{TABLE}"

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Any]:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        try:
            columns = ", ".join(f"{name} {kind}" for name, kind, _ in COLUMNS)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            con.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({columns})")
            yield con
        finally:
            con.close()

    def _mark(self, name: str) -> str:
        return f"${name}"

    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._connect() as con:
            cursor = con.execute(sql, params)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _write(self, sql: str, params: dict[str, Any]) -> int:
        with self._connect() as con:
            # DuckDB answers an INSERT or UPDATE with one row: the count of rows changed.
            (count,) = con.execute(sql, params).fetchone()
        return int(count)

    def _raw_table(self, name: str) -> str | None:
        found = self._rows(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = 'raw' AND table_name = $name",
            {"name": name},
        )
        return f"raw.{name}" if found else None
