"""Reading the training set from the warehouse (DuckDB file or BigQuery) into pandas."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from bnpl_ml.config import MlError, TrainConfig

# Split values the run uses; any other value (rows the dbt side holds back, e.g. labels not
# yet mature) is counted and left out.
SPLITS = ("train", "validation", "test")


def bigquery_client(config: TrainConfig):  # -> google.cloud.bigquery.Client
    from google.cloud import bigquery

    return bigquery.Client(project=config.bigquery_project, location=config.bigquery_location)


def bigquery_name(config: TrainConfig, table: str) -> str:
    """project.dataset.table for a dataset.table setting."""
    return table if table.count(".") == 2 else f"{config.bigquery_project}.{table}"


def _duckdb_read(config: TrainConfig) -> duckdb.DuckDBPyConnection:
    path = config.duckdb_path
    if not path.is_file():
        raise MlError(
            f"duckdb_path: {path} does not exist "
            "(expected the warehouse file; set BNPL_DUCKDB_PATH)"
        )
    return duckdb.connect(str(path), read_only=True)


def _query(config: TrainConfig, sql: str) -> pd.DataFrame:
    if config.warehouse == "duckdb":
        with _duckdb_read(config) as connection:
            return connection.execute(sql).df()
    return bigquery_client(config).query(sql).to_dataframe()


def _ref(config: TrainConfig, table: str) -> str:
    return f"`{bigquery_name(config, table)}`" if config.warehouse == "bigquery" else table


def table_columns(config: TrainConfig) -> list[str]:
    """The training set's columns in table order; MlError when there is no such table."""
    table = config.training_set
    try:
        return list(_query(config, f"SELECT * FROM {_ref(config, table)} WHERE 1 = 0").columns)
    except duckdb.CatalogException as exc:
        raise MlError(
            f"training set: no table {table} in {config.duckdb_path} (run the daily job, "
            "whose dbt build-marts step writes it)"
        ) from exc
    except Exception as exc:
        if config.warehouse == "bigquery" and type(exc).__name__ == "NotFound":
            raise MlError(f"training set: no table {bigquery_name(config, table)}") from exc
        raise


def split_counts(config: TrainConfig, split_column: str) -> dict[str, int]:
    """Rows per split value, unused values included (the card reports what was left out)."""
    frame = _query(
        config,
        f"SELECT CAST({split_column} AS STRING) AS split_value, COUNT(*) AS row_count "
        f"FROM {_ref(config, config.training_set)} GROUP BY 1",
    )
    return {str(row.split_value): int(row.row_count) for row in frame.itertuples()}


def load_rows(
    config: TrainConfig, columns: Sequence[str], split_column: str, order_by: Sequence[str]
) -> pd.DataFrame:
    """The rows of the three splits, only the named columns, in a stable order (the model's
    results must not depend on the order the warehouse happens to return rows in)."""
    selected = ", ".join(dict.fromkeys([*columns, split_column]))
    splits = ", ".join(f"'{split}'" for split in SPLITS)
    order = f" ORDER BY {', '.join(order_by)}" if order_by else ""
    return _query(
        config,
        f"SELECT {selected} FROM {_ref(config, config.training_set)} "
        f"WHERE {split_column} IN ({splits}){order}",
    )
