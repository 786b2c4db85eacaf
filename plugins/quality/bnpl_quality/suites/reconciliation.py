"""The per-day reconciliation as the gate reads it from dbt."""

from __future__ import annotations

from bnpl_quality.sql import as_date, literal_rows
from bnpl_quality.suites.inputs import SuiteInputs


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
