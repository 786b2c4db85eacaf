"""What the gate expects of simtom's records beyond dbt's structural tests."""

from __future__ import annotations

from simtom_local.domains import SCENARIO_WEIGHTS

# simtom's scenario mix, as shares, from the local server's model of simtom (one home).
# Allowed values are not checked here: dbt tests them against the seed
# simtom_allowed_values in build-staging, which runs before the gate.
RISK_SCENARIO_MIX = {
    scenario: weight / sum(SCENARIO_WEIGHTS.values())
    for scenario, weight in SCENARIO_WEIGHTS.items()
}

REQUIRED_COLUMNS = (
    "transaction_key",
    "transaction_id",
    "transaction_date",
    "_timestamp",
    "customer_key",
    "customer_id",
    "extraction_run_id",
    "amount",
    "product_price",
    "first_payment_amount",
    "risk_score",
    "will_default",
)

# Severities: a critical failure fails the gate; a warning fails it only with fail_on_drift.
CRITICAL = "critical"
WARNING = "warning"
