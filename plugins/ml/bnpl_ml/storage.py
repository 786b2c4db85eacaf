"""The run log of the models: ml.model_runs (DuckDB) / bnpl_ml.model_runs (BigQuery).

Append only, one row per run per model. The nested results (per-split metrics, calibration,
cut-offs, grid, importances) are JSON columns; the headline test figures are plain columns
so a trend over runs is one SELECT.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb

from bnpl_ml.config import MlError, TrainConfig
from bnpl_ml.data import bigquery_client, bigquery_name

# (name, DuckDB type, BigQuery type)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("run_id", "VARCHAR", "STRING"),
    ("model", "VARCHAR", "STRING"),
    ("started_at", "TIMESTAMP", "TIMESTAMP"),
    ("finished_at", "TIMESTAMP", "TIMESTAMP"),
    ("warehouse", "VARCHAR", "STRING"),
    ("training_set_table", "VARCHAR", "STRING"),
    ("label_column", "VARCHAR", "STRING"),
    ("first_date", "DATE", "DATE"),
    ("last_date", "DATE", "DATE"),
    ("train_rows", "BIGINT", "INT64"),
    ("validation_rows", "BIGINT", "INT64"),
    ("test_rows", "BIGINT", "INT64"),
    ("test_roc_auc", "DOUBLE", "FLOAT64"),
    ("test_pr_auc", "DOUBLE", "FLOAT64"),
    ("test_brier", "DOUBLE", "FLOAT64"),
    ("splits", "JSON", "JSON"),
    ("features", "JSON", "JSON"),
    ("hyperparameters", "JSON", "JSON"),
    ("validation_metrics", "JSON", "JSON"),
    ("test_metrics", "JSON", "JSON"),
    ("feature_importances", "JSON", "JSON"),
    ("comparison", "JSON", "JSON"),
    ("model_card_path", "VARCHAR", "STRING"),
    ("versions", "JSON", "JSON"),
)
JSON_COLUMNS = {name for name, duck_type, _ in COLUMNS if duck_type == "JSON"}


def _serialise(row: dict[str, Any]) -> dict[str, Any]:
    return {
        name: json.dumps(row.get(name), default=str) if name in JSON_COLUMNS else row.get(name)
        for name, _, _ in COLUMNS
    }


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def append_runs(config: TrainConfig, rows: Sequence[dict[str, Any]]) -> str:
    """Append the rows; returns the table name as written to."""
    if config.warehouse == "duckdb":
        return _append_duckdb(config, rows)
    return _append_bigquery(config, rows)


def _append_duckdb(config: TrainConfig, rows: Sequence[dict[str, Any]]) -> str:
    table = config.runs
    schema = table.rsplit(".", 1)[0]
    definition = ", ".join(f"{name} {duck_type}" for name, duck_type, _ in COLUMNS)
    names = ", ".join(name for name, _, _ in COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    try:
        with duckdb.connect(str(config.duckdb_path)) as connection:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            connection.execute(f"CREATE TABLE IF NOT EXISTS {table} ({definition})")
            connection.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})",
                [list(_serialise(row).values()) for row in rows],
            )
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise MlError(f"runs_table: could not append to {table}: {first_line}") from exc
    return table


def _append_bigquery(config: TrainConfig, rows: Sequence[dict[str, Any]]) -> str:
    from google.cloud import bigquery

    client = bigquery_client(config)
    table = bigquery_name(config, config.runs)
    dataset = table.rsplit(".", 1)[0]
    dataset_spec = bigquery.Dataset(dataset)
    dataset_spec.location = config.bigquery_location
    client.create_dataset(dataset_spec, exists_ok=True)
    schema = [bigquery.SchemaField(name, bq_type) for name, _, bq_type in COLUMNS]
    client.create_table(bigquery.Table(table, schema=schema), exists_ok=True)
    # A load job reads JSON columns as JSON values and times as ISO text.
    records = [
        {
            name: json.loads(json.dumps(row.get(name), default=str))
            if name in JSON_COLUMNS
            else _iso(row.get(name))
            for name, _, _ in COLUMNS
        }
        for row in rows
    ]
    job = client.load_table_from_json(
        records,
        table,
        job_config=bigquery.LoadJobConfig(
            schema=schema, write_disposition=bigquery.WriteDisposition.WRITE_APPEND
        ),
    )
    job.result()
    return table
