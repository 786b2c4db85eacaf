"""What the simtom contract (shared/simtom/CONTRACT.md and its captures) promises."""

from __future__ import annotations

# Value sets of the enumerated fields: named in CONTRACT.md or fixed by the generator's
# scenario logic and seen in the real captures.
ENUMS: dict[str, tuple[str, ...]] = {
    "currency": ("USD",),
    "status": ("completed",),
    "risk_scenario": (
        "low_risk_purchase",
        "impulse_purchase",
        "credit_stretched",
        "high_risk_behavior",
    ),
    "risk_level": ("low", "medium", "high", "very_high"),
    "payment_frequency": ("bi_weekly",),
    "purchase_context": ("normal", "impulse", "rushed"),
    "checkout_speed": ("normal", "slow", "fast", "very_fast"),
    "customer_age_bracket": ("18-24", "25-34", "35-44", "45-54", "55+"),
    "customer_income_bracket": ("<25k", "25k-50k", "50k-75k", "75k-100k", "100k+"),
    "customer_credit_score_range": ("poor", "fair", "good", "excellent"),
    "customer_verification_level": ("verified", "partial", "unverified"),
    "customer_address_stability": ("stable", "new", "frequent_mover"),
    "product_risk_category": ("low", "medium", "high"),
    "device_type": ("mobile", "desktop", "tablet"),
    "_generator": ("BNPLGenerator",),
}

# Captures show 4 and 6; simtom's generator also offers 12 and 24 for orders over $500.
INSTALLMENT_COUNTS = (4, 6, 12, 24)

# simtom's scenario weights.
RISK_SCENARIO_MIX = {
    "low_risk_purchase": 0.60,
    "impulse_purchase": 0.20,
    "credit_stretched": 0.15,
    "high_risk_behavior": 0.05,
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
