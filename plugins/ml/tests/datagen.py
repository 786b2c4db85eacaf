"""A training set with a known answer, written to a real DuckDB file, and its manifest.

Columns and roles mirror mart_bnpl_ml_training_set in small: ids, a few features of each
kind (number, category, boolean, with missing values), a label proxy, simtom's risk_score,
the label, the split and audit columns. With `signal`, the default probability rises
steeply with `signal_feature` and with one level of `segment`; risk_score only sees a
noisy share of it. Without, the label is a coin with the same rate whatever the columns say.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

ROLES = {
    "transaction_key": "id",
    "transaction_date": "id",
    "amount": "feature",
    "signal_feature": "feature",
    "segment": "feature",
    "device_is_trusted": "feature",
    "risk_score": "feature",
    "risk_scenario": "label_proxy",
    "will_default": "label",
    "days_to_first_missed_payment": "audit",
    "dataset_split": "split",
    "dbt_updated_at": "audit",
}
TABLE = "marts.mart_bnpl_ml_training_set"


def training_rows(
    rows: int = 12_000, days: int = 30, signal: bool = True, seed: int = 1
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    day_numbers = np.sort(rng.integers(0, days, rows))
    signal_feature = rng.normal(size=rows)
    segment = rng.choice(["a", "b", "c", "d"], size=rows)
    planted = -3.6 + 1.6 * signal_feature + 1.4 * (segment == "d")
    logit = planted if signal else np.full(rows, -3.0)
    defaulted = rng.random(rows) < 1 / (1 + np.exp(-logit))
    # risk_score: a weak view of the signal (a tenth of it under a lot of noise).
    risk_score = np.clip(0.3 + 0.03 * signal_feature + rng.normal(0, 0.15, rows), 0.01, 0.99)
    amount = rng.gamma(2.0, 150.0, rows)
    amount[rng.random(rows) < 0.05] = np.nan
    train_days, validation_days = int(days * 0.7), int(days * 0.85)
    split = np.where(
        day_numbers < train_days,
        "train",
        np.where(day_numbers < validation_days, "validation", "test"),
    )
    start = date(2024, 11, 1)
    return pd.DataFrame(
        {
            "transaction_key": [f"k{i:06d}" for i in range(rows)],
            "transaction_date": [start + timedelta(days=int(d)) for d in day_numbers],
            "amount": amount,
            "signal_feature": signal_feature,
            "segment": segment,
            "device_is_trusted": rng.random(rows) < 0.7,
            "risk_score": risk_score,
            # A proxy of the label only where there is a signal to proxy.
            "risk_scenario": np.where(defaulted & (rng.random(rows) < 0.5), "stretched", "calm")
            if signal
            else rng.choice(["stretched", "calm"], size=rows),
            "will_default": defaulted,
            "days_to_first_missed_payment": np.where(defaulted, 28, None),
            "dataset_split": split,
            "dbt_updated_at": pd.Timestamp("2024-12-01 02:00:00"),
        }
    )


def write_training_set(path: Path, frame: pd.DataFrame) -> Path:
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS marts")
        connection.register("frame", frame)
        connection.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM frame")
        connection.execute(f"ALTER TABLE {TABLE} ALTER days_to_first_missed_payment TYPE INTEGER")
    return path


def manifest(roles: dict[str, Any] | None = None, under_config: bool = False) -> dict[str, Any]:
    """A manifest with only what the utility reads; roles as dbt 1.11 writes column meta."""
    columns = {}
    for name, role in (ROLES if roles is None else roles).items():
        meta = {} if role is None else {"ml_role": role}
        columns[name] = {
            "name": name,
            "description": f"{name} (generated)",
            "meta": {} if under_config else meta,
            "config": {"meta": meta if under_config else {}},
        }
    return {
        "nodes": {
            "model.bnpl.mart_bnpl_ml_training_set": {
                "resource_type": "model",
                "name": "mart_bnpl_ml_training_set",
                "description": "Generated training set for the bnpl-ml tests.",
                "columns": columns,
            }
        }
    }


def write_manifest(path: Path, content: dict[str, Any]) -> Path:
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


BIGQUERY_TYPES = {
    "transaction_key": "STRING",
    "transaction_date": "DATE",
    "amount": "FLOAT64",
    "signal_feature": "FLOAT64",
    "segment": "STRING",
    "device_is_trusted": "BOOL",
    "risk_score": "FLOAT64",
    "risk_scenario": "STRING",
    "will_default": "BOOL",
    "days_to_first_missed_payment": "INT64",
    "dataset_split": "STRING",
    "dbt_updated_at": "TIMESTAMP",
}


def write_training_set_bigquery(client, table: str, frame: pd.DataFrame) -> None:
    """The same table in BigQuery (a load job of JSON rows, as dbt's types would make it)."""
    from google.cloud import bigquery

    dataset = table.rsplit(".", 1)[0]
    client.create_dataset(dataset, exists_ok=True)
    records = json.loads(frame.to_json(orient="records", date_format="iso"))
    for record in records:
        record["transaction_date"] = record["transaction_date"][:10]
    schema = [bigquery.SchemaField(name, kind) for name, kind in BIGQUERY_TYPES.items()]
    client.load_table_from_json(
        records, table, job_config=bigquery.LoadJobConfig(schema=schema)
    ).result()
