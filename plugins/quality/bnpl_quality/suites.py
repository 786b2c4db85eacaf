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

from dataclasses import dataclass
from datetime import date
from typing import Any

from bnpl_quality.config import GateConfig
from bnpl_quality.rules import (
    CRITICAL,
    REQUIRED_COLUMNS,
    RISK_SCENARIO_MIX,
    WARNING,
)
from bnpl_quality.sql import as_date, day_list, json_key_rows, latest_extractions, literal_rows
from bnpl_quality.volume import DayExpectation, warn_ratios

BUSINESS_RULES = "bnpl_business_rules"
STATISTICAL_PATTERNS = "bnpl_statistical_patterns"


@dataclass(frozen=True)
class SuiteInputs:
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


def reconciliation_query(
    inputs: SuiteInputs, batch: str = "{batch}", mismatches_only: bool = True
) -> str:
    """Per checked day: dbt's int_bnpl_daily_reconciliation (the latest extraction's counts
    against raw, quarantine and staging), computed once there and only read here.

    As an expectation it returns the days that do not balance, that have rows or an
    extraction but no reconciliation row, or whose reconciliation row is of an older
    extraction than the latest logged one (dbt has not run since the load); the report
    reads every day.
    """
    checked = literal_rows(
        ("day", "extraction_key"),
        [(day, inputs.extraction_keys.get(day)) for day in inputs.days],
    )
    if not inputs.reconciliation:
        # Not built yet: every day with something to reconcile fails, saying why.
        return f"""WITH checked AS (
{checked}
)
SELECT c.day, 'no reconciliation: dbt has not built it yet (build-staging)' AS problem
FROM checked AS c
WHERE c.extraction_key IS NOT NULL
   OR c.day IN (SELECT {as_date("transaction_date")} FROM {batch})
ORDER BY day"""
    where = f"""WHERE (r.reconciliation_date IS NULL AND (
         c.extraction_key IS NOT NULL
         OR c.day IN (SELECT {as_date("transaction_date")} FROM {batch} AS batch)))
   OR NOT r.is_balanced
   OR COALESCE(r.latest_extraction_key, '') <> COALESCE(CAST(c.extraction_key AS STRING), '')"""
    return f"""WITH checked AS (
{checked}
)
SELECT c.day, r.records_emitted AS extracted, r.latest_run_raw_rows AS loaded,
       r.raw_distinct_transaction_keys AS loaded_keys, r.staged_rows AS staged,
       r.staged_rows_of_latest_run AS staged_of_latest_run,
       r.records_quarantined AS quarantined_extracted,
       r.latest_run_quarantine_rows AS quarantined_loaded, r.unlogged_runs,
       r.latest_extraction_key AS reconciled_extraction_key,
       CAST(c.extraction_key AS STRING) AS latest_extraction_key, r.is_balanced
FROM checked AS c
LEFT JOIN {inputs.reconciliation} AS r ON r.reconciliation_date = c.day
{where if mismatches_only else ""}
ORDER BY day"""


def volume_query(inputs: SuiteInputs, limits: str) -> str:
    """Days whose transactions fall outside their ``warn`` or ``fail`` count limits."""
    rows = [
        (d.day, d.expected, getattr(d, f"{limits}_low"), getattr(d, f"{limits}_high"))
        for d in inputs.expectations.values()
        if d.expected is not None
    ]
    limit_rows = literal_rows(("day", "expected", "count_low", "count_high"), rows)
    return f"""WITH limits AS (
{limit_rows}
),
loaded AS (
  SELECT {as_date("transaction_date")} AS day, COUNT(DISTINCT transaction_key) AS transactions
  FROM {{batch}} AS batch
  GROUP BY {as_date("transaction_date")}
)
SELECT b.day, COALESCE(l.transactions, 0) AS transactions, b.expected, b.count_low,
       b.count_high
FROM limits AS b
LEFT JOIN loaded AS l ON l.day = b.day
WHERE COALESCE(l.transactions, 0) < b.count_low OR COALESCE(l.transactions, 0) > b.count_high"""


def build_suites(gx: Any, inputs: SuiteInputs) -> dict[str, Any]:
    """Both suites as GX ExpectationSuite objects (not yet saved)."""
    return {
        BUSINESS_RULES: _business_rules(gx, inputs),
        STATISTICAL_PATTERNS: _statistical_patterns(gx, inputs),
    }


def _meta(severity: str, column: str | None = None) -> dict[str, Any]:
    return {"severity": severity, "column": column}


def _business_rules(gx: Any, inputs: SuiteInputs) -> Any:
    ex = gx.expectations
    expectations: list[Any] = []
    add = expectations.append
    for column in REQUIRED_COLUMNS:
        add(
            ex.ExpectColumnValuesToNotBeNull(
                column=column, description=f"{column} is present", meta=_meta(CRITICAL, column)
            )
        )
    # Raw may hold a replayed day where the loader appends; staging must not.
    add(
        ex.ExpectColumnValuesToBeUnique(
            column="transaction_key",
            description="transaction_key is unique in raw",
            meta=_meta(WARNING if inputs.staging else CRITICAL, "transaction_key"),
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
            meta=_meta(CRITICAL, "transaction_key"),
        )
    )
    add(
        ex.ExpectColumnValuesToBeBetween(
            column="amount",
            min_value=0,
            strict_min=True,
            description="amount is positive",
            meta=_meta(CRITICAL, "amount"),
        )
    )
    add(
        ex.UnexpectedRowsExpectation(
            description="amount equals product_price",
            unexpected_rows_query="""SELECT transaction_key, amount, product_price
FROM {batch}
WHERE ABS(amount - product_price) > 0.005""",
            meta=_meta(CRITICAL, "amount"),
        )
    )
    add(
        ex.UnexpectedRowsExpectation(
            description="first_payment_amount is 25% of amount within a cent",
            unexpected_rows_query="""SELECT transaction_key, amount, first_payment_amount
FROM {batch}
WHERE ABS(first_payment_amount - amount * 0.25) > 0.0100001""",
            meta=_meta(CRITICAL, "first_payment_amount"),
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
            meta=_meta(CRITICAL, "risk_level"),
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
            meta=_meta(CRITICAL, "days_to_first_missed_payment"),
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
            meta=_meta(CRITICAL, "_timestamp"),
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
            meta=_meta(CRITICAL, "transaction_key"),
        )
    )
    expectations.extend(_rejected_lines(gx, inputs))
    return _suite(gx, BUSINESS_RULES, expectations)


def _rejected_lines(gx: Any, inputs: SuiteInputs) -> list[Any]:
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
            meta=_meta(CRITICAL, "transaction_date"),
        ),
        ex.UnexpectedRowsExpectation(
            description=(
                f"quarantined share of each day's lines at most {share:.1%} "
                "(latest extraction_log records_quarantined / records_received)"
            ),
            unexpected_rows_query=per_day
            + f"\n  AND e.records_quarantined > {share!r} * e.records_received",
            meta=_meta(CRITICAL, "records_quarantined"),
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
                meta=_meta(WARNING, "extra_fields"),
            )
        )
    return expectations


def _statistical_patterns(gx: Any, inputs: SuiteInputs) -> Any:
    ex = gx.expectations
    cfg = inputs.config
    expectations: list[Any] = []
    add = expectations.append
    range_days = literal_rows(("day",), [(d,) for d in inputs.days])
    add(
        ex.UnexpectedRowsExpectation(
            description="no missing day in the checked range (neither extracted nor loaded)",
            unexpected_rows_query=f"""WITH expected_days AS (
{range_days}
)
SELECT d.day
FROM expected_days AS d
WHERE d.day NOT IN (SELECT {as_date("transaction_date")} FROM {{batch}})
  AND d.day NOT IN (
    SELECT {as_date("extraction_date")} FROM {inputs.extraction_log}
    WHERE {as_date("extraction_date")} IN ({day_list(inputs.days)})
  )""",
            meta=_meta(CRITICAL, "transaction_date"),
        )
    )
    # Expected: base_daily_volume x simtom's calendar factor of the day (bnpl_quality.volume).
    add(
        ex.UnexpectedRowsExpectation(
            description=(
                "daily transactions near simtom's volume model (within "
                f"x{cfg.band_low_slack}..x{cfg.band_high_slack} of base_daily_volume x the "
                "day's calendar factor, 5 sigma of its noise)"
            ),
            unexpected_rows_query=volume_query(inputs, "fail"),
            meta=_meta(CRITICAL, "transaction_date"),
        )
    )
    low, high = warn_ratios(cfg.band_low_slack, cfg.band_high_slack)
    add(
        ex.UnexpectedRowsExpectation(
            description=(
                f"daily transactions within simtom's day-to-day noise (x{low:.2f}..x{high:.2f} "
                "of the expected count, 3 sigma)"
            ),
            unexpected_rows_query=volume_query(inputs, "warn"),
            meta=_meta(WARNING, "transaction_date"),
        )
    )
    add(
        ex.ExpectColumnMeanToBeBetween(
            column="will_default_flag",
            min_value=cfg.default_rate_min,
            max_value=cfg.default_rate_max,
            description=(
                f"default rate within {cfg.default_rate_min:.1%}-{cfg.default_rate_max:.0%}"
            ),
            meta=_meta(WARNING, "will_default"),
        )
    )
    mix = literal_rows(("risk_scenario", "expected_share"), RISK_SCENARIO_MIX.items())
    mix_label = "/".join(f"{share:.0%}".rstrip("%") for share in RISK_SCENARIO_MIX.values())
    add(
        ex.UnexpectedRowsExpectation(
            description=(
                f"risk-scenario mix near {mix_label} (within "
                f"{cfg.mix_tolerance:.0%} or four standard errors, whichever is wider)"
            ),
            unexpected_rows_query=f"""WITH expected AS (
{mix}
),
totals AS (SELECT COUNT(*) AS n FROM {{batch}} AS batch),
observed AS (
  SELECT risk_scenario, COUNT(*) AS c FROM {{batch}} AS batch GROUP BY risk_scenario
)
SELECT e.risk_scenario, e.expected_share,
       ROUND(COALESCE(o.c, 0) * 1.0 / NULLIF(t.n, 0), 4) AS observed_share, t.n AS transactions
FROM expected AS e
CROSS JOIN totals AS t
LEFT JOIN observed AS o ON o.risk_scenario = e.risk_scenario
WHERE t.n > 0
  AND ABS(COALESCE(o.c, 0) * 1.0 / NULLIF(t.n, 0) - e.expected_share) > GREATEST(
        {cfg.mix_tolerance},
        4 * SQRT(e.expected_share * (1 - e.expected_share) / NULLIF(t.n, 0)))""",
            meta=_meta(WARNING, "risk_scenario"),
        )
    )
    return _suite(gx, STATISTICAL_PATTERNS, expectations)


def _suite(gx: Any, name: str, expectations: list[Any]) -> Any:
    # Built in one go: adding one by one to a suite GX has stored rewrites it every time.
    return gx.ExpectationSuite(name=name, expectations=expectations)
