"""The bnpl_statistical_patterns suite: completeness, daily volume, default rate, mix."""

from __future__ import annotations

from typing import Any

from bnpl_quality.rules import CRITICAL, RISK_SCENARIO_MIX, WARNING
from bnpl_quality.sql import as_date, day_list, literal_rows
from bnpl_quality.suites.inputs import SuiteInputs, expectation_meta, make_suite
from bnpl_quality.volume import warn_ratios

STATISTICAL_PATTERNS = "bnpl_statistical_patterns"


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


def statistical_patterns(gx: Any, inputs: SuiteInputs) -> Any:
    """The bnpl_statistical_patterns suite: missing days and the volume band fail the gate,
    drift (noise band, default rate, scenario mix) only warns."""
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
            meta=expectation_meta(CRITICAL, "transaction_date"),
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
            meta=expectation_meta(CRITICAL, "transaction_date"),
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
            meta=expectation_meta(WARNING, "transaction_date"),
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
            meta=expectation_meta(WARNING, "will_default"),
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
            meta=expectation_meta(WARNING, "risk_scenario"),
        )
    )
    return make_suite(gx, STATISTICAL_PATTERNS, expectations)
