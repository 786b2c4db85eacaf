"""Which warehouse holds an environment's run log, and how to reach it, from the environment
variables the loaders read. Standard library only: the Airflow DAGs import this."""

from __future__ import annotations

import os
from pathlib import Path

from .store import RunLog

ROOT = Path(__file__).resolve().parents[2]
WAREHOUSES = ("duckdb", "bigquery")


def warehouse_for(environment: str) -> str:
    """BNPL_RUN_LOG_WAREHOUSE, else the environment's: prod loads BigQuery, dev DuckDB."""
    chosen = os.environ.get("BNPL_RUN_LOG_WAREHOUSE") or (
        "bigquery" if environment == "prod" else "duckdb"
    )
    if chosen not in WAREHOUSES:
        raise ValueError(f"BNPL_RUN_LOG_WAREHOUSE: expected duckdb or bigquery, got {chosen}")
    return chosen


def python_for(warehouse: str) -> str:
    """A Python that can write the run log of `warehouse`, for callers outside the project
    venv (Airflow): BNPL_RUN_LOG_PYTHON, else the project venv's (DuckDB) or the load-check
    utility's venv, which holds the Google client (BigQuery)."""
    if explicit := os.environ.get("BNPL_RUN_LOG_PYTHON"):
        return explicit
    if warehouse == "bigquery":
        return str(ROOT / ".meltano" / "utilities" / "load-check" / "venv" / "bin" / "python")
    return str(ROOT / ".venv" / "bin" / "python")


def log_dir() -> Path:
    """Where runs keep their steps' output: BNPL_RUN_LOG_DIR, else output/logs/runs."""
    return Path(os.environ.get("BNPL_RUN_LOG_DIR") or ROOT / "output" / "logs" / "runs")


def open_run_log(environment: str) -> RunLog:
    """The run log of the warehouse the environment loads."""
    if warehouse_for(environment) == "duckdb":
        from .duckdb_store import DuckDBRunLog

        path = os.environ.get("BNPL_DUCKDB_PATH") or str(ROOT / "output" / "bnpl.duckdb")
        return DuckDBRunLog(Path(path))
    from .bigquery_store import BigQueryRunLog

    project = os.environ.get("TARGET_BIGQUERY_PROJECT") or os.environ.get("BNPL_GCP_PROJECT")
    if not project:
        raise ValueError("BNPL_GCP_PROJECT: expected the GCP project holding bnpl_ops, got nothing")
    location = (
        os.environ.get("TARGET_BIGQUERY_LOCATION") or os.environ.get("BNPL_BQ_LOCATION") or "US"
    )
    raw = os.environ.get("TARGET_BIGQUERY_DATASET") or "bnpl_raw"
    return BigQueryRunLog(project, location, raw)
