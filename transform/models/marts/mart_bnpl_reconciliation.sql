{{
    config(
        materialized='incremental',
        unique_key='reconciliation_date',
        incremental_strategy=bnpl_incremental_strategy(),
        on_schema_change='append_new_columns',
    )
}}
{#-
  One row per day: int_bnpl_daily_reconciliation (the tap's latest extraction of the day
  against raw and staging) with the rows the transactions mart holds. A day balances when
  the reconciliation does and the mart holds every staged row.

  Incremental: a run recounts the days the reconciliation recounted and the days the
  transactions mart rewrote since the last run.
-#}
{%- set days_query -%}
    select reconciliation_date as day from {{ ref('int_bnpl_daily_reconciliation') }}
    where dbt_updated_at > {{ bnpl_high_water_mark('reconciliation_updated_at') }}
    union distinct
    select transaction_date from {{ ref('mart_bnpl_transactions') }}
    where dbt_updated_at > {{ bnpl_high_water_mark('source_updated_at') }}
{%- endset -%}
{%- set rebuilt_days = bnpl_recounted_days(days_query) -%}
with reconciled_days as (

    select * from {{ ref('int_bnpl_daily_reconciliation') }}
    where {{ bnpl_recounted_day_filter('reconciliation_date', rebuilt_days) }}

),

mart_days as (

    select transaction_date, count(*) as mart_rows, max(dbt_updated_at) as source_updated_at
    from {{ ref('mart_bnpl_transactions') }}
    where {{ bnpl_recounted_day_filter('transaction_date', rebuilt_days) }}
    group by transaction_date

),

all_days as (

    select reconciliation_date from reconciled_days
    union distinct
    select transaction_date from mart_days

)

select
    all_days.reconciliation_date,
    reconciled_days.latest_extraction_run_id,
    coalesce(reconciled_days.extraction_runs, 0) as extraction_runs,
    reconciled_days.records_received,
    reconciled_days.records_quarantined,
    coalesce(reconciled_days.records_emitted, 0) as extracted_rows,
    coalesce(reconciled_days.raw_rows, 0) as raw_rows,
    coalesce(reconciled_days.raw_distinct_transaction_keys, 0) as raw_distinct_transaction_keys,
    coalesce(reconciled_days.latest_run_raw_rows, 0) as latest_run_raw_rows,
    coalesce(reconciled_days.staged_rows, 0) as staged_rows,
    coalesce(mart_days.mart_rows, 0) as mart_rows,
    coalesce(reconciled_days.raw_rows, 0) - coalesce(reconciled_days.raw_distinct_transaction_keys, 0)
        as raw_duplicate_rows,
    coalesce(reconciled_days.is_balanced, false)
        and coalesce(reconciled_days.staged_rows, 0) = coalesce(mart_days.mart_rows, 0)
        as is_balanced,
    reconciled_days.raw_loaded_at,
    -- Newest rewrite of the day's reconciliation and of its transactions-mart rows
    -- (incremental high-water marks).
    reconciled_days.dbt_updated_at as reconciliation_updated_at,
    mart_days.source_updated_at,
    {{ bnpl_audit_columns() }}
from all_days
left join reconciled_days
    on all_days.reconciliation_date = reconciled_days.reconciliation_date
left join mart_days
    on all_days.reconciliation_date = mart_days.transaction_date
