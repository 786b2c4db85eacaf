"""A few BigQuery REST v2 calls for assertions, over plain HTTP to the emulator.

The test process (the project venv) has no Google client libraries; the calls the tests
need -- run a query, read a table's metadata -- are two JSON endpoints.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from typing import Any

_CASTS = {
    "INTEGER": int,
    "INT64": int,
    "FLOAT": float,
    "FLOAT64": float,
    "NUMERIC": float,
    "BOOLEAN": lambda value: value == "true",
    "BOOL": lambda value: value == "true",
    "DATE": date.fromisoformat,
}


class BigQueryRestError(RuntimeError):
    """The emulator answered with an error."""


@dataclass(frozen=True)
class BigQueryRest:
    """REST client bound to one emulator URL and one project."""

    url: str
    project: str

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/bigquery/v2/projects/{self.project}/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise BigQueryRestError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a GoogleSQL query as dicts (INT64, FLOAT64, BOOL and DATE converted)."""
        result = self._call(
            "POST", "queries", {"query": sql, "useLegacySql": False, "timeoutMs": 120_000}
        )
        if not result.get("jobComplete", True):
            raise BigQueryRestError(f"query did not complete: {sql}")
        # DDL and DML answer without a schema.
        fields = result.get("schema", {}).get("fields", [])
        return [
            {
                field["name"]: (
                    None if cell["v"] is None else _CASTS.get(field["type"], str)(cell["v"])
                )
                for field, cell in zip(fields, row["f"], strict=True)
            }
            for row in result.get("rows", [])
        ]

    def execute(self, sql: str) -> None:
        self.query(sql)

    def table(self, dataset: str, table: str) -> dict[str, Any]:
        """The table resource: schema, timePartitioning, clustering, numRows, type."""
        return self._call("GET", f"datasets/{dataset}/tables/{table}")

    def tables(self, dataset: str) -> list[str]:
        listing = self._call("GET", f"datasets/{dataset}/tables")
        return sorted(item["tableReference"]["tableId"] for item in listing.get("tables", []))

    def per_day(self, sql: str) -> dict[str, int]:
        """{YYYY-MM-DD: n} from a query selecting `day` and `n`."""
        return {str(row["day"]): int(row["n"]) for row in self.query(sql)}
