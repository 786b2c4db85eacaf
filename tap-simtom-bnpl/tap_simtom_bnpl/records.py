"""The two records the tap builds, each once: a transaction and a customer profile.

Both are msgspec structs, from the decoded line to the output: the writer encodes them
as they are (RECORD lines or BATCH files) and turns them into dicts only for stream maps
or deselected fields. Quarantine and extraction-log rows are plain dicts (a few per day).
"""

from __future__ import annotations

import typing as t

import msgspec

from tap_simtom_bnpl.keys import PROFILE_ATTRIBUTES

STR, INT, NUM, BOOL = "string", "integer", "number", "boolean"

# (field, kind, nullable) of simtom's record. Identity fields first so their reason wins;
# the timestamp first of all so that even a rejected record can be placed on its day.
RECORD_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("_timestamp", STR, False),
    ("transaction_id", STR, False),
    ("customer_id", STR, False),
    ("_record_id", INT, False),
    ("amount", NUM, False),
    ("product_id", STR, False),
    ("device_id", STR, False),
    ("payment_method_id", STR, False),
    ("currency", STR, False),
    ("status", STR, False),
    ("risk_scenario", STR, False),
    ("risk_score", NUM, False),
    ("risk_level", STR, False),
    ("installment_count", INT, False),
    ("first_payment_amount", NUM, False),
    ("payment_frequency", STR, False),
    ("purchase_context", STR, False),
    ("checkout_speed", STR, False),
    ("cart_abandonment_count", INT, False),
    ("price_comparison_time", INT, False),
    ("time_on_site_seconds", INT, False),
    ("credit_utilization", NUM, True),
    ("economic_stress_factor", NUM, False),
    ("will_default", BOOL, False),
    ("days_to_first_missed_payment", INT, True),
    ("customer_age_bracket", STR, False),
    ("customer_tenure_days", INT, False),
    ("customer_income_bracket", STR, False),
    ("customer_credit_score_range", STR, False),
    ("customer_verification_level", STR, False),
    ("customer_address_stability", STR, False),
    ("customer_state", STR, False),
    ("product_category", STR, False),
    ("product_subcategory", STR, False),
    ("product_brand", STR, False),
    ("product_price", NUM, False),
    ("product_bnpl_eligible", BOOL, False),
    ("product_risk_category", STR, False),
    ("device_type", STR, False),
    ("device_os", STR, False),
    ("device_is_trusted", BOOL, False),
    ("payment_provider", STR, False),
    ("payment_type", STR, False),
    ("payment_credit_limit", INT, False),
    ("_generator", STR, False),
)
# What the tap adds to every transaction, in output order (set by `response.ResponseReader`;
# extra_fields by parsing: null, or the JSON text of the fields the tap does not know).
TAP_FIELDS = (
    "transaction_key",
    "transaction_date",
    "customer_key",
    "customer_profile_key",
    "extra_fields",
    "extraction_run_id",
    "requested_at",
    "window_start",
    "window_end",
)
_PYTHON_TYPES: dict[str, t.Any] = {STR: str, INT: int, NUM: int | float, BOOL: bool}

# A line is decoded straight into this struct, which msgspec type-checks on the way:
# simtom's fields of their types (nullable ones may be null or absent), no unknown field.
# The tap's fields are typed UNSET so that a line carrying one of them fails the decoder
# and takes the field-by-field check, which keeps it in extra_fields; the tap then assigns
# them (msgspec does not check assignments). Keyword-only, so fields keep RECORD_FIELDS'
# order; scalars only, so the garbage collector need not track it.
TransactionRecord = msgspec.defstruct(
    "TransactionRecord",
    [
        *(
            (name, _PYTHON_TYPES[kind] | None, None) if nullable else (name, _PYTHON_TYPES[kind])
            for name, kind, nullable in RECORD_FIELDS
        ),
        *((name, msgspec.UnsetType, msgspec.UNSET) for name in TAP_FIELDS),
    ],
    kw_only=True,
    forbid_unknown_fields=True,
    gc=False,
)

# A customer profile, emitted once per response before its first kept transaction.
CustomerRecord = msgspec.defstruct(
    "CustomerRecord",
    [
        ("customer_profile_key", str),
        ("customer_key", str),
        ("customer_id", str),
        *((name, str) for name in PROFILE_ATTRIBUTES),
        ("customer_tenure_days", int),
        ("first_seen_at", str),
        ("first_seen_date", str),
        ("requested_at", str),
        ("extraction_run_id", str),
    ],
    gc=False,
)
