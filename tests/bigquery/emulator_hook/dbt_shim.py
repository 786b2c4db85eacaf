"""Test-only: bridge the one emulator gap dbt-bigquery trips over.

After a `create or replace table ... as select`, dbt-bigquery reads the new table's row
count through `query_job.destination`. BigQuery fills that in for CTAS jobs; the emulator
leaves it empty (it reports the table only as statistics.query.ddlTargetTable), and dbt
fails with "'NoneType' object has no attribute 'path'". The shim copies ddlTargetTable
into the job's destination, which is what BigQuery itself reports. Nothing else changes.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any


def _fill_destination(query_job: Any) -> None:
    if query_job.statement_type != "CREATE_TABLE_AS_SELECT" or query_job.destination is not None:
        return
    target = query_job._properties.get("statistics", {}).get("query", {}).get("ddlTargetTable")
    if target:
        configuration = query_job._properties.setdefault("configuration", {})
        configuration.setdefault("query", {})["destinationTable"] = dict(target)


def install(connections: ModuleType) -> None:
    """Wrap BigQueryConnectionManager.raw_execute in dbt.adapters.bigquery.connections."""
    manager = connections.BigQueryConnectionManager
    original = manager.raw_execute

    def raw_execute(self, *args, **kwargs):
        query_job, iterator = original(self, *args, **kwargs)
        _fill_destination(query_job)
        return query_job, iterator

    manager.raw_execute = raw_execute
