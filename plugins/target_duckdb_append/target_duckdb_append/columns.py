"""From a Singer SCHEMA message to the raw table's columns and the SQL that reads them.

Columns are the record's fields lowercased and sorted by name, plus the Singer `_sdc_`
metadata columns; dbt's sources, the quality gate and scripts/summary.py read them so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from target_duckdb_append.errors import LoadError

EXTRACTED_AT = "_sdc_extracted_at"
BATCHED_AT = "_sdc_batched_at"
DELETED_AT = "_sdc_deleted_at"
METADATA_COLUMNS = (EXTRACTED_AT, BATCHED_AT, DELETED_AT)

_SMALLINT_MAX = 32767
_INTEGER_MAX = 2147483647
_BIGINT_MAX = 9223372036854775807


def _types(prop: dict[str, Any]) -> list[str]:
    declared = prop.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def column_type(prop: dict[str, Any]) -> str:
    """The DuckDB type of a JSON schema property's column."""
    types = _types(prop)
    fmt = prop.get("format")
    if "object" in types or "array" in types:
        return "JSON"
    if fmt == "date-time":
        return "TIMESTAMP"
    if fmt == "time":
        return "TIME"
    if "number" in types:
        return "DOUBLE"
    if "integer" in types and "string" in types:
        return "VARCHAR"
    if "integer" in types:
        maximum = prop.get("maximum")
        if maximum is None:
            return "HUGEINT"
        if maximum <= _SMALLINT_MAX:
            return "SMALLINT"
        if maximum <= _INTEGER_MAX:
            return "INTEGER"
        if maximum <= _BIGINT_MAX:
            return "BIGINT"
        return "VARCHAR"
    if "boolean" in types:
        return "BOOLEAN"
    return "VARCHAR"


def _read_type(column: str) -> str:
    # Timestamps are read with their offset and stored in UTC (the session time zone).
    return "TIMESTAMPTZ" if column == "TIMESTAMP" else column


def quote(name: str) -> str:
    """A SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def table_name_for(stream: str) -> str:
    """The table of a stream: its name lowercased, `.` and `-` as `_`."""
    return stream.replace(".", "_").replace("-", "_").lower()


@dataclass(frozen=True)
class Column:
    """One column of a raw table and the record field it is read from."""

    name: str
    field: str
    type: str
    prop: dict[str, Any]


@dataclass(frozen=True)
class TableSpec:
    """The raw table of one stream, as its SCHEMA message describes it."""

    stream: str
    table: str
    columns: tuple[Column, ...]
    key_columns: tuple[str, ...]

    @classmethod
    def from_schema_message(cls, message: dict[str, Any]) -> TableSpec:
        stream = message["stream"]
        properties = message["schema"].get("properties")
        if not isinstance(properties, dict):
            raise LoadError(f"stream '{stream}': SCHEMA has no 'properties' object")
        columns: dict[str, Column] = {}
        for field, prop in properties.items():
            if not isinstance(prop, dict):
                raise LoadError(
                    f"stream '{stream}': schema of field '{field}' must be an object, got {prop!r}"
                )
            if field in METADATA_COLUMNS:
                continue
            name = field.lower()
            if name in columns:
                raise LoadError(
                    f"stream '{stream}': fields '{columns[name].field}' and '{field}' "
                    f"both become column '{name}'"
                )
            columns[name] = Column(name, field, column_type(prop), prop)
        for name, prop in (
            (EXTRACTED_AT, {"type": ["null", "string"], "format": "date-time"}),
            (BATCHED_AT, {"type": ["null", "string"], "format": "date-time"}),
            (DELETED_AT, {"type": ["null", "string"]}),
        ):
            columns[name] = Column(name, name, column_type(prop), prop)
        keys = tuple(message.get("key_properties") or ())
        for key in keys:
            if key.lower() not in columns:
                raise LoadError(
                    f"stream '{stream}': key property '{key}' is not in the schema's properties"
                )
        return cls(
            stream=stream,
            table=table_name_for(stream),
            columns=tuple(columns[name] for name in sorted(columns)),
            key_columns=tuple(key.lower() for key in keys),
        )

    @property
    def record_columns(self) -> tuple[Column, ...]:
        """Columns read from the record itself (all but the loader's metadata)."""
        return tuple(c for c in self.columns if c.name not in (EXTRACTED_AT, BATCHED_AT))

    def create_sql(self, qualified: str) -> str:
        """CREATE TABLE: sorted columns, keys NOT NULL, no primary key (the raw layer is
        append-only and may hold replays)."""
        parts = [
            f"{quote(c.name)} {c.type}" + (" NOT NULL" if c.name in self.key_columns else "")
            for c in self.columns
        ]
        return f"CREATE TABLE {qualified} ({', '.join(parts)})"

    def json_columns(self, *, wrapped: bool) -> str:
        """The `columns` argument of read_ndjson for this stream's lines.

        wrapped: the lines are whole RECORD messages (record + time_extracted); otherwise
        each line is a record, as in a BATCH file.
        """
        fields = ", ".join(f"{quote(c.field)} {_read_type(c.type)}" for c in self.record_columns)
        if wrapped:
            return (
                "{'record': " + literal(f"STRUCT({fields})") + ", 'time_extracted': 'TIMESTAMPTZ'}"
            )
        return (
            "{"
            + ", ".join(
                f"{literal(c.field)}: {literal(_read_type(c.type))}" for c in self.record_columns
            )
            + "}"
        )

    def select_list(self, *, wrapped: bool, extracted_at: str | None, batched_at: str) -> str:
        """SELECT expressions producing the table's columns, in order.

        extracted_at: a timestamp literal for _sdc_extracted_at, or None to take each
        RECORD message's time_extracted.
        """
        prefix = "record." if wrapped else ""
        exprs = []
        for c in self.columns:
            if c.name == EXTRACTED_AT:
                if extracted_at is None:
                    exprs.append("CAST(time_extracted AS TIMESTAMP)")
                else:
                    exprs.append(f"TIMESTAMP {literal(extracted_at)}")
            elif c.name == BATCHED_AT:
                exprs.append(f"TIMESTAMP {literal(batched_at)}")
            else:
                source = prefix + quote(c.field)
                exprs.append(f"CAST({source} AS {c.type})" if c.type == "TIMESTAMP" else source)
        return ", ".join(exprs)
