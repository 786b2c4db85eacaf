"""SQL shared by the day selection, the suites and the report.

Written once for DuckDB and BigQuery: DATE literals, CAST, COUNT(DISTINCT), window
functions and FULL OUTER JOIN mean the same in both. Day lists are literal SELECTs joined
with UNION ALL because BigQuery has no VALUES table constructor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date


def date_literal(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def day_list(days: Iterable[date]) -> str:
    """``DATE 'a', DATE 'b'`` for an IN list."""
    return ", ".join(date_literal(d) for d in days)


def as_date(column: str) -> str:
    # The loaders keep dates as emitted (target-duckdb-append stores a "date" string as VARCHAR).
    return f"CAST({column} AS DATE)"


def literal_rows(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A derived table of literal rows: SELECT .. AS a, .. AS b UNION ALL SELECT ..."""
    parts = []
    for row in rows:
        cells = ", ".join(
            f"{_literal(value)} AS {col}" for col, value in zip(columns, row, strict=True)
        )
        parts.append(f"SELECT {cells}")
    if not parts:
        # An empty table of the right shape.
        cells = ", ".join(f"NULL AS {col}" for col in columns)
        return f"SELECT {cells} FROM (SELECT 1 AS one) AS nothing WHERE 1 = 0"
    return "\nUNION ALL ".join(parts)


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, date):
        return date_literal(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("'", "''")
    return f"'{text}'"


def latest_extractions(extraction_log: str, days: Iterable[date] | None = None) -> str:
    """The latest extraction_log row per extracted day (a re-extraction supersedes).

    Latest by request, as dbt picks it (int_bnpl_daily_reconciliation, staging's
    bnpl_extraction_recency_order): runs that overlap can finish in the other order, and
    the gate must name the same extraction as the reconciliation row it compares with.
    """
    where = f"WHERE {as_date('extraction_date')} IN ({day_list(days)})" if days else ""
    return f"""SELECT day, extraction_key, extraction_run_id, records_received, records_emitted,
       records_quarantined, base_daily_volume
FROM (
  SELECT {as_date("extraction_date")} AS day, extraction_key, extraction_run_id,
         records_received, records_emitted, records_quarantined, base_daily_volume,
         ROW_NUMBER() OVER (
           PARTITION BY {as_date("extraction_date")}
           ORDER BY requested_at DESC, finished_at DESC, extraction_run_id DESC
         ) AS recency
  FROM {extraction_log}
  {where}
) AS ranked
WHERE recency = 1"""


def json_key_rows(warehouse: str, table: str, column: str, where: str) -> str:
    """One row per key of the JSON objects in `column` (text or JSON), as `field_name`.

    The one place the dialects differ: DuckDB unnests json_keys in the select list,
    BigQuery cross-joins UNNEST(JSON_KEYS(...)) of the parsed text.
    """
    if warehouse == "bigquery":
        return f"""SELECT field_name
FROM {table} AS t, UNNEST(JSON_KEYS(SAFE.PARSE_JSON(CAST(t.{column} AS STRING)))) AS field_name
WHERE t.{column} IS NOT NULL AND {where}"""
    return f"""SELECT UNNEST(JSON_KEYS(CAST({column} AS JSON))) AS field_name
FROM {table}
WHERE {column} IS NOT NULL AND {where}"""
