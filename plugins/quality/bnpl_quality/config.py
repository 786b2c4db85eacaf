"""Gate settings: one frozen object built from CLI options and environment variables."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from bnpl_quality.volume import DEFAULT_HIGH_SLACK, DEFAULT_LOW_SLACK

WAREHOUSES = ("duckdb", "bigquery")

# Per warehouse: the layer names of SPEC.md (schemas in DuckDB, datasets in BigQuery).
DEFAULT_TABLES = {
    "duckdb": {
        "transactions": "raw.transactions",
        "extraction_log": "raw.extraction_log",
        "quarantine": "raw.quarantine",
        "staging_transactions": "staging.stg_simtom__transactions",
        "reconciliation": "intermediate.int_bnpl_daily_reconciliation",
        "results": "quality.gate_results",
        "runs": "quality.gate_runs",
    },
    "bigquery": {
        "transactions": "bnpl_raw.transactions",
        "extraction_log": "bnpl_raw.extraction_log",
        "quarantine": "bnpl_raw.quarantine",
        "staging_transactions": "bnpl_staging.stg_simtom__transactions",
        "reconciliation": "bnpl_staging.int_bnpl_daily_reconciliation",
        "results": "bnpl_quality.gate_results",
        "runs": "bnpl_quality.gate_runs",
    },
}

_TABLE_NAME = re.compile(r"^(?:[A-Za-z0-9_-]+\.)?[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line naming the setting."""


@dataclass(frozen=True)
class Tables:
    transactions: str
    extraction_log: str
    quarantine: str
    staging_transactions: str
    reconciliation: str
    results: str
    runs: str

    @classmethod
    def for_warehouse(cls, warehouse: str, **overrides: str | None) -> Tables:
        names = dict(DEFAULT_TABLES[warehouse])
        names.update({k: v for k, v in overrides.items() if v})
        for key, name in names.items():
            if not _TABLE_NAME.match(name):
                raise ConfigError(
                    f"{key}_table: {name!r} is not a qualified table name "
                    "(expected schema.table or project.dataset.table)"
                )
        return cls(**names)


@dataclass(frozen=True)
class GateConfig:
    warehouse: str = "duckdb"
    duckdb_path: Path = Path("output/bnpl.duckdb")
    bigquery_project: str | None = None
    bigquery_location: str = "US"
    tables: Tables = field(default_factory=lambda: Tables.for_warehouse("duckdb"))
    # None: the newly loaded days; "all": every extracted day; else an explicit list.
    days: tuple[date, ...] | str | None = None
    expected_volume: int | None = None
    holiday_country: str = "US"
    fail_on_drift: bool = False
    report_dir: Path = Path("output/quality")
    band_low_slack: float = DEFAULT_LOW_SLACK
    band_high_slack: float = DEFAULT_HIGH_SLACK
    default_rate_min: float = 0.005
    default_rate_max: float = 0.20
    mix_tolerance: float = 0.05
    # The tap fails a day above its max_rejected_share (default 0.01) first; this is the
    # second line, on what reached the warehouse.
    max_quarantine_share: float = 0.01
    staging_date_column: str = "transaction_date"
    # The checkpoint updates Data Docs on every run; `bnpl-quality docs` rebuilds them later.
    data_docs: bool = True

    def __post_init__(self) -> None:
        if self.warehouse not in WAREHOUSES:
            raise ConfigError(
                f"warehouse: {self.warehouse!r} is not one of {', '.join(WAREHOUSES)}"
            )
        if self.warehouse == "bigquery" and not self.bigquery_project:
            raise ConfigError(
                "bigquery_project: required for warehouse bigquery (set BNPL_GCP_PROJECT)"
            )
        if self.expected_volume is not None and self.expected_volume < 1:
            raise ConfigError(f"expected_volume: {self.expected_volume} is not a positive integer")
        if not 0 < self.band_low_slack <= 1 <= self.band_high_slack:
            raise ConfigError(
                "band_low_slack/band_high_slack: expected 0 < low <= 1 <= high, got "
                f"{self.band_low_slack}/{self.band_high_slack}"
            )
        if not 0 <= self.default_rate_min < self.default_rate_max <= 1:
            raise ConfigError(
                "default_rate_min/default_rate_max: expected 0 <= min < max <= 1, got "
                f"{self.default_rate_min}/{self.default_rate_max}"
            )
        if not 0 < self.mix_tolerance < 1:
            raise ConfigError(f"mix_tolerance: {self.mix_tolerance} is not between 0 and 1")
        if not 0 <= self.max_quarantine_share <= 1:
            raise ConfigError(
                f"max_quarantine_share: {self.max_quarantine_share} is not between 0 and 1"
            )
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.staging_date_column):
            raise ConfigError(
                f"staging_date_column: {self.staging_date_column!r} is not a column name"
            )

    @property
    def gx_root(self) -> Path:
        """Great Expectations' file context lives here, never in the user's home."""
        return self.report_dir / "gx"

    @property
    def data_docs_dir(self) -> Path:
        return self.report_dir / "data_docs"

    @property
    def report_path(self) -> Path:
        return self.report_dir / "report.html"
