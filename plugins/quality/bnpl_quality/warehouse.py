"""Connections, table names and the results tables, for DuckDB and BigQuery alike.

Everything goes through SQLAlchemy (duckdb-engine, sqlalchemy-bigquery) so that the gate's
own small metadata queries and Great Expectations' validation queries speak the same SQL
to the same warehouse. Only aggregates ever come back to Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from bnpl_quality.config import ConfigError, GateConfig

RESULT_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("run_id", sa.String),
    ("run_time", sa.TIMESTAMP),
    ("suite", sa.String),
    ("expectation", sa.String),
    ("description", sa.String),
    ("column_name", sa.String),
    ("success", sa.Boolean),
    ("observed_value", sa.String),
    ("unexpected_count", sa.BigInteger),
    ("severity", sa.String),
    ("checked_days", sa.String),
    ("first_checked_day", sa.Date),
    ("last_checked_day", sa.Date),
    ("warehouse", sa.String),
)

RUN_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("run_id", sa.String),
    ("run_time", sa.TIMESTAMP),
    ("verdict", sa.String),
    ("success", sa.Boolean),
    ("checked_days", sa.String),
    ("first_checked_day", sa.Date),
    ("last_checked_day", sa.Date),
    ("day_count", sa.BigInteger),
    ("extraction_keys", sa.String),
    ("expectations", sa.BigInteger),
    ("critical_failures", sa.BigInteger),
    ("warnings", sa.BigInteger),
    ("fail_on_drift", sa.Boolean),
    ("duration_seconds", sa.Float),
    ("report_path", sa.String),
    ("warehouse", sa.String),
)


class Warehouse:
    """The warehouse the gate validates and writes its results to."""

    def __init__(self, config: GateConfig) -> None:
        self.config = config
        self.kind = config.warehouse
        if self.kind == "duckdb":
            path = config.duckdb_path.resolve()
            if not path.is_file():
                raise ConfigError(
                    f"duckdb_path: {path} does not exist (expected the DuckDB file the loader "
                    "writes; set BNPL_DUCKDB_PATH)"
                )
            self.connection_string = f"duckdb:///{path}"
            self.engine_kwargs: dict[str, Any] = {}
        else:
            self.connection_string = f"bigquery://{config.bigquery_project}"
            self.engine_kwargs = {"location": config.bigquery_location}
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self.connection_string, **self.engine_kwargs)
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def ref(self, name: str) -> str:
        """A table name as it goes into SQL (BigQuery quotes project.dataset.table)."""
        return f"`{name}`" if self.kind == "bigquery" else name

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execute(sa.text(sql), dict(params or {}))
            return [dict(row._mapping) for row in result.fetchall()]

    def has_table(self, name: str) -> bool:
        schema, table = _split(name)
        return sa.inspect(self.engine).has_table(table, schema=schema)

    def has_column(self, name: str, column: str) -> bool:
        # A query that reads nothing: the same on both warehouses (duckdb-engine's
        # inspector needs catalog tables DuckDB does not have).
        try:
            self.rows(f"SELECT {column} FROM {self.ref(name)} WHERE 1 = 0")
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def ensure_schema(self, name: str) -> None:
        schema, _ = _split(name)
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {self.ref(schema)}"))

    def append(
        self, name: str, columns: tuple[tuple[str, Any], ...], rows: Iterable[dict[str, Any]]
    ) -> int:
        """Append rows, creating the schema and table on first use."""
        rows = list(rows)
        schema, table_name = _split(name)
        self.ensure_schema(name)
        metadata = sa.MetaData()
        table = sa.Table(
            table_name, metadata, *(sa.Column(col, kind()) for col, kind in columns), schema=schema
        )
        metadata.create_all(self.engine, checkfirst=True)
        if rows:
            with self.engine.begin() as conn:
                conn.execute(table.insert(), rows)
        return len(rows)


def _split(name: str) -> tuple[str, str]:
    schema, _, table = name.rpartition(".")
    return schema, table
