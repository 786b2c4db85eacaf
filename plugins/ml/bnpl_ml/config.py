"""Run settings: one frozen object built from CLI options and environment variables."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

WAREHOUSES = ("duckdb", "bigquery")

# Where dbt puts the training set and where the runs go (generate_schema_name.sql maps the
# marts layer to schema `marts` on DuckDB and dataset `bnpl_marts` on BigQuery).
DEFAULT_TABLES = {
    "duckdb": {"training_set": "marts.mart_bnpl_ml_training_set", "runs": "ml.model_runs"},
    "bigquery": {
        "training_set": "bnpl_marts.mart_bnpl_ml_training_set",
        "runs": "bnpl_ml.model_runs",
    },
}

_TABLE_NAME = re.compile(r"^(?:[A-Za-z0-9_-]+\.)?[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MlError(Exception):
    """Something the run cannot go on with; the message is one line naming what is wrong."""


@dataclass(frozen=True)
class TrainConfig:
    warehouse: str = "duckdb"
    duckdb_path: Path = Path("output/bnpl.duckdb")
    bigquery_project: str | None = None
    bigquery_location: str = "US"
    manifest_path: Path = Path("transform/target/manifest.json")
    # The dbt model whose column roles the manifest holds.
    model: str = "mart_bnpl_ml_training_set"
    training_set_table: str | None = None
    runs_table: str | None = None
    output_dir: Path = Path("output/ml")
    # The outcome to predict and the column holding train/validation/test (each must carry
    # that ml_role in dbt).
    label_column: str = "will_default"
    split_column: str = "dataset_split"
    # simtom's own score: the baseline the model has to beat.
    baseline_score_column: str = "risk_score"
    # The data range a run reports (min and max over the rows it uses).
    date_column: str = "transaction_date"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.warehouse not in WAREHOUSES:
            raise MlError(f"warehouse: {self.warehouse!r} is not one of {', '.join(WAREHOUSES)}")
        if self.warehouse == "bigquery" and not self.bigquery_project:
            raise MlError(
                "bigquery_project: required for warehouse bigquery (set BNPL_GCP_PROJECT)"
            )
        for name in ("training_set_table", "runs_table"):
            value = getattr(self, name)
            if value is not None and not _TABLE_NAME.match(value):
                raise MlError(
                    f"{name}: {value!r} is not a qualified table name "
                    "(expected schema.table or project.dataset.table)"
                )
        for name in (
            "label_column",
            "split_column",
            "baseline_score_column",
            "date_column",
            "model",
        ):
            if not _COLUMN_NAME.match(getattr(self, name)):
                raise MlError(f"{name}: {getattr(self, name)!r} is not a column or model name")

    @property
    def training_set(self) -> str:
        return self.training_set_table or DEFAULT_TABLES[self.warehouse]["training_set"]

    @property
    def runs(self) -> str:
        return self.runs_table or DEFAULT_TABLES[self.warehouse]["runs"]
