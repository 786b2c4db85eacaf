"""The two expectation suites, built for the days a run checks.

Both suites validate one batch: the raw transactions of the checked days, as a query
asset, so every expectation runs as SQL in the warehouse. Checks that need other tables
(extraction log, quarantine, staging, dbt's per-day reconciliation) are
UnexpectedRowsExpectations whose SQL joins them to ``{batch}``. GX aliases ``{batch}``
itself unless the query has a JOIN, so only joining queries alias it. Each expectation
carries ``meta.severity``: ``critical`` (business rules, reconciliation, completeness)
fails the gate; ``warning`` (statistical drift) fails it only with fail_on_drift.
"""

from __future__ import annotations

from typing import Any

from bnpl_quality.suites.business_rules import BUSINESS_RULES, business_rules
from bnpl_quality.suites.inputs import SuiteInputs, batch_query
from bnpl_quality.suites.reconciliation import reconciliation_query
from bnpl_quality.suites.statistical_patterns import STATISTICAL_PATTERNS, statistical_patterns

__all__ = [
    "BUSINESS_RULES",
    "STATISTICAL_PATTERNS",
    "SuiteInputs",
    "batch_query",
    "build_suites",
    "reconciliation_query",
]


def build_suites(gx: Any, inputs: SuiteInputs) -> dict[str, Any]:
    """Both suites as GX ExpectationSuite objects (not yet saved)."""
    return {
        BUSINESS_RULES: business_rules(gx, inputs),
        STATISTICAL_PATTERNS: statistical_patterns(gx, inputs),
    }
