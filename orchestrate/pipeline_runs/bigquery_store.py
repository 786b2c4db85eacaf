"""pipeline_runs in dataset `bnpl_ops` of the GCP project the prod job loads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .record import COLUMNS, TABLE
from .store import RunLog

DATASET = "bnpl_ops"
# Parameter types: every column's own, and the bounds of the time windows.
PARAMETER_TYPES = {
    **{name: kind.split()[0] for name, _, kind in COLUMNS},
    "since": "TIMESTAMP",
    "until": "TIMESTAMP",
    "after": "TIMESTAMP",
}


class BigQueryRunLog(RunLog):
    """bnpl_ops.pipeline_runs in BNPL_GCP_PROJECT; the tap's rows are read from the raw
    dataset target-bigquery loads (TARGET_BIGQUERY_DATASET, default bnpl_raw)."""

    def __init__(self, project: str, location: str, raw_dataset: str) -> None:
        from google.cloud import bigquery

        self.bigquery = bigquery
        self.client = bigquery.Client(project=project, location=location)
        self.table = f"`{project}.{DATASET}.{TABLE}`"
        self.project, self.location, self.raw_dataset = project, location, raw_dataset
        self._ready = False

    def _create_table(self) -> None:
        """bnpl_ops.pipeline_runs, unless it exists. Looked up first: one metadata call per
        CLI run instead of a DDL job, and no project-level right to create datasets needed
        once the dataset is there."""
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_table(f"{self.project}.{DATASET}.{TABLE}")
            return
        except NotFound:
            pass
        dataset = self.bigquery.Dataset(f"{self.project}.{DATASET}")
        dataset.location = self.location
        self.client.create_dataset(dataset, exists_ok=True)
        columns = ", ".join(f"{name} {kind}" for name, _, kind in COLUMNS)
        self.client.query(f"CREATE TABLE IF NOT EXISTS {self.table} ({columns})").result()

    def _query(self, sql: str, params: dict[str, Any]) -> Any:
        if not self._ready:
            self._create_table()
            self._ready = True
        # A NULL parameter still needs its type, so every parameter is typed by its column.
        config = self.bigquery.QueryJobConfig(
            query_parameters=[
                self.bigquery.ScalarQueryParameter(name, PARAMETER_TYPES[name], value)
                for name, value in params.items()
            ]
        )
        job = self.client.query(sql, job_config=config)
        job.result()
        return job

    def _mark(self, name: str) -> str:
        return f"@{name}"

    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows = self._query(sql, params).result()
        return [{key: _naive(value) for key, value in row.items()} for row in rows]

    def _write(self, sql: str, params: dict[str, Any]) -> int:
        return int(self._query(sql, params).num_dml_affected_rows or 0)

    def _raw_table(self, name: str) -> str | None:
        from google.api_core.exceptions import NotFound

        reference = f"{self.project}.{self.raw_dataset}.{name}"
        try:
            self.client.get_table(reference)
        except NotFound:
            return None
        return f"`{reference}`"


def _naive(value: Any) -> Any:
    """BigQuery TIMESTAMPs arrive in UTC with tzinfo; a Run holds naive UTC."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
