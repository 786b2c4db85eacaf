"""The bnpl_business_rules suite: record rules, reconciliation and rejected lines."""

from __future__ import annotations

from typing import Any

from bnpl_quality.rules import CRITICAL, REQUIRED_COLUMNS, WARNING
from bnpl_quality.sql import as_date, json_key_rows, latest_extractions
from bnpl_quality.suites.inputs import SuiteInputs, expectation_meta, make_suite
from bnpl_quality.suites.reconciliation import reconciliation_query

BUSINESS_RULES = "bnpl_business_rules"


def business_rules(gx: Any, inputs: SuiteInputs) -> Any:
    """The bnpl_business_rules suite: record rules, no day loaded twice, reconciliation."""
    ex = gx.expectations
    expectations: list[Any] = []
    add = expectations.append
    for column in REQUIRED_COLUMNS:
        add(
            ex.ExpectColumnValuesToNotBeNull(
                column=column,
                description=f"{column} is present",
                meta=expectation_meta(CRITICAL, column),
            )
        )
    # Raw may hold a replayed day where the loader appends; staging must not.
    add(
        ex.ExpectColumnValuesToBeUnique(
            column="transaction_key",
            description="transaction_key is unique in raw",
            meta=expectation_meta(WARNING if inputs.staging else CRITICAL, "transaction_key"),
        )
    )
    dedup_table = inputs.staging or "{batch}"
    date_col = as_date(inputs.config.staging_date_column if inputs.staging else "transaction_date")
    add(
        ex.UnexpectedRowsExpectation(
            description=(
                f"no day loaded twice in {'staging' if inputs.staging else 'raw'} "
                "(rows per day equal distinct transaction keys)"
            ),
            unexpected_rows_query=f"""SELECT {date_col} AS day, COUNT(*) AS row_count,
       COUNT(DISTINCT transaction_key) AS distinct_keys
FROM {dedup_table}
WHERE {date_col} IN (SELECT {as_date("transaction_date")} FROM {{batch}})
GROUP BY {date_col}
HAVING COUNT(*) > COUNT(DISTINCT transaction_key)""",
            meta=expectation_meta(CRITICAL, "transaction_key"),
        )
    )
    add(
        ex.ExpectColumnValuesToBeBetween(
            column="amount",
            min_value=0,
            strict_min=True,
            description="amount is positive",
            meta=expectation_meta(CRITICAL, "amount"),
        )
    )
    add(
        ex.UnexpectedRowsExpectation(
            description="amount equals product_price",
            unexpected_rows_query="""SELECT transaction_key, amount, product_price
FROM {batch}
WHERE ABS(amount - product_price) > 0.005""",
            meta=expectation_meta(CRITICAL, "amount"),
        )
    )
    add(
        ex.UnexpectedRowsExpectation(
            description="first_payment_amount is 25% of amount within a cent",
            unexpected_rows_query="""SELECT transaction_key, amount, first_payment_amount
FROM {batch}
WHERE ABS(first_payment_amount - amount * 0.25) > 0.0100001""",
            meta=expectation_meta(CRITICAL, "first_payment_amount"),
        )
    )
    add(
        ex.UnexpectedRowsExpectation(
            description=(
                "risk_level is the band of risk_score "
                "(<0.3 low, <0.6 medium, <0.8 high, else very_high)"
            ),
            unexpected_rows_query="""SELECT transaction_key, risk_score, risk_level
FROM {batch}
WHERE risk_level IS NULL
   OR risk_level <> CASE
        WHEN risk_score < 0.3 THEN 'low'
        WHEN risk_score < 0.6 THEN 'medium'
        WHEN risk_score < 0.8 THEN 'high'
        ELSE 'very_high'
      END""",
            meta=expectation_meta(CRITICAL, "risk_level"),
        )
    )
    add(
        ex.UnexpectedRowsExpectation(
            description="days_to_first_missed_payment is set exactly when will_default",
            unexpected_rows_query="""SELECT transaction_key, will_default,
       days_to_first_missed_payment
FROM {batch}
WHERE (will_default AND days_to_first_missed_payment IS NULL)
   OR (NOT will_default AND days_to_first_missed_payment IS NOT NULL)""",
            meta=expectation_meta(CRITICAL, "days_to_first_missed_payment"),
        )
    )
    add(
        ex.UnexpectedRowsExpectation(
            description="_timestamp falls on transaction_date, inside the extracted window",
            unexpected_rows_query=f"""SELECT transaction_key, _timestamp, transaction_date,
       window_start, window_end
FROM {{batch}}
WHERE {as_date("_timestamp")} <> {as_date("transaction_date")}
   OR {as_date("transaction_date")} < {as_date("window_start")}
   OR {as_date("transaction_date")} > {as_date("window_end")}""",
            meta=expectation_meta(CRITICAL, "_timestamp"),
        )
    )
    add(
        ex.UnexpectedRowsExpectation(
            description=(
                "extracted equals loaded per day (int_bnpl_daily_reconciliation balances: the "
                "latest extraction's records_emitted and records_quarantined against its raw "
                "rows and quarantined lines, the distinct keys in raw and the staged rows)"
            ),
            unexpected_rows_query=reconciliation_query(inputs),
            meta=expectation_meta(CRITICAL, "transaction_key"),
        )
    )
    expectations.extend(rejected_lines(gx, inputs))
    return make_suite(gx, BUSINESS_RULES, expectations)


def rejected_lines(gx: Any, inputs: SuiteInputs) -> list[Any]:
    """The second line behind the tap's max_rejected_share: days that lost their lines to
    quarantine (critical), and fields simtom sent that the tap does not know (warning)."""
    ex = gx.expectations
    share = inputs.config.max_quarantine_share
    per_day = f"""WITH extracted AS (
{latest_extractions(inputs.extraction_log, inputs.days)}
),
loaded AS (
  SELECT {as_date("transaction_date")} AS day, COUNT(DISTINCT transaction_key) AS transactions
  FROM {{batch}} AS batch
  GROUP BY {as_date("transaction_date")}
)
SELECT e.day, e.records_received, e.records_emitted, e.records_quarantined,
       COALESCE(l.transactions, 0) AS transactions_loaded,
       ROUND(e.records_quarantined * 1.0 / e.records_received, 4) AS quarantined_share
FROM extracted AS e
LEFT JOIN loaded AS l ON l.day = e.day
WHERE e.records_received > 0"""
    expectations = [
        ex.UnexpectedRowsExpectation(
            description=(
                "no empty day (a day whose latest extraction received lines has transactions)"
            ),
            unexpected_rows_query=per_day
            + "\n  AND (COALESCE(e.records_emitted, 0) = 0 OR l.transactions IS NULL)",
            meta=expectation_meta(CRITICAL, "transaction_date"),
        ),
        ex.UnexpectedRowsExpectation(
            description=(
                f"quarantined share of each day's lines at most {share:.1%} "
                "(latest extraction_log records_quarantined / records_received)"
            ),
            unexpected_rows_query=per_day
            + f"\n  AND e.records_quarantined > {share!r} * e.records_received",
            meta=expectation_meta(CRITICAL, "records_quarantined"),
        ),
    ]
    if inputs.extra_fields:
        date_col = as_date(
            inputs.config.staging_date_column
            if inputs.extra_fields == inputs.staging
            else "transaction_date"
        )
        keys = json_key_rows(
            inputs.config.warehouse,
            inputs.extra_fields,
            "extra_fields",
            f"{date_col} IN (SELECT {as_date('transaction_date')} FROM {{batch}})",
        )
        expectations.append(
            ex.UnexpectedRowsExpectation(
                description=(
                    "simtom sent no field the tap does not know (names listed from "
                    "transactions' extra_fields)"
                ),
                unexpected_rows_query=f"""SELECT STRING_AGG(field_name, ', ' ORDER BY field_name)
         AS unknown_fields,
       COUNT(*) AS field_count
FROM (SELECT DISTINCT field_name FROM ({keys}) AS field_keys) AS names
HAVING COUNT(*) > 0""",
                meta=expectation_meta(WARNING, "extra_fields"),
            )
        )
    return expectations
