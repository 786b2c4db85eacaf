"""What the suites are built from: the checked days, their tables, the validated batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bnpl_quality.config import GateConfig
from bnpl_quality.sql import as_date, day_list
from bnpl_quality.volume import DayExpectation


@dataclass(frozen=True)
class SuiteInputs:
    """The checked days, their expected counts and the tables the expectations read."""

    config: GateConfig
    days: tuple[date, ...]
    expectations: dict[date, DayExpectation]
    transactions: str  # table references as they go into SQL
    extraction_log: str
    quarantine: str | None  # None when the loader has not created it (no line quarantined)
    staging: str | None  # None when dbt has not built staging yet
    reconciliation: str | None  # dbt's int_bnpl_daily_reconciliation; None: not built yet
    extraction_keys: dict[date, str]  # the latest extraction of each checked day
    extra_fields: str | None = None  # the table with `extra_fields`; None: no such column


def batch_query(inputs: SuiteInputs) -> str:
    """The validated batch: raw transactions of the checked days."""
    return (
        "SELECT *, CASE WHEN will_default THEN 1 ELSE 0 END AS will_default_flag "
        f"FROM {inputs.transactions} "
        f"WHERE {as_date('transaction_date')} IN ({day_list(inputs.days)})"
    )


def expectation_meta(severity: str, column: str | None = None) -> dict[str, Any]:
    """``meta`` of an expectation: its severity and the column the report files it under."""
    return {"severity": severity, "column": column}


def make_suite(gx: Any, name: str, expectations: list[Any]) -> Any:
    """A GX ExpectationSuite of these expectations."""
    # Built in one go: adding one by one to a suite GX has stored rewrites it every time.
    return gx.ExpectationSuite(name=name, expectations=expectations)
