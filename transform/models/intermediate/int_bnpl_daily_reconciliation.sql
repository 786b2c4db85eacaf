{{
    config(
        materialized='incremental',
        unique_key='reconciliation_date',
        incremental_strategy=bnpl_incremental_strategy(),
        on_schema_change='append_new_columns',
    )
}}
{#-
  The one per-day reconciliation of the pipeline (the quality gate and
  mart_bnpl_reconciliation read it): what the tap says its latest extraction of the day
  emitted and quarantined, against what raw and staging hold.

  The latest extraction of a day wins (the later request, then the later finish, then the
  greater run id). The loaders append, so older runs' rows of a re-extracted day stay in raw
  beside the new ones; the latest run's own rows must match its extraction_log row exactly
  (a lost batch or a load applied twice shows there even where staging deduplicates).

  Incremental: a run recounts the days with raw transactions, quarantine or extraction-log
  rows loaded since the newest load counted here.
-#}
{%- set days_query -%}
    select distinct cast(transaction_date as date) as day from {{ source('simtom', 'transactions') }}
    where _sdc_batched_at > {{ bnpl_high_water_mark('raw_loaded_at') }}
    union distinct
    select extraction_date from {{ ref('stg_simtom__quarantine') }}
    where loaded_at > {{ bnpl_high_water_mark('raw_loaded_at') }}
    union distinct
    select extraction_date from {{ ref('stg_simtom__extraction_log') }}
    where loaded_at > {{ bnpl_high_water_mark('raw_loaded_at') }}
{%- endset -%}
{%- set rebuilt_days = bnpl_recounted_days(days_query) -%}
with extraction_log as (

    select * from {{ ref('stg_simtom__extraction_log') }}
    where {{ bnpl_recounted_day_filter('extraction_date', rebuilt_days) }}

),

extractions_ranked as (

    select
        extraction_log.*,
        row_number() over (
            partition by extraction_date
            order by requested_at desc, finished_at desc, extraction_run_id desc
        ) as extraction_recency_rank
    from extraction_log

),

latest_extractions as (

    select * from extractions_ranked
    where extraction_recency_rank = 1

),

extraction_counts as (

    select extraction_date, count(*) as extraction_runs, max(loaded_at) as loaded_at
    from extraction_log
    group by extraction_date

),

raw_transactions as (

    select
        cast(transaction_date as date) as transaction_date,
        cast(transaction_key as {{ dbt.type_string() }}) as transaction_key,
        cast(extraction_run_id as {{ dbt.type_string() }}) as extraction_run_id,
        cast(_sdc_batched_at as {{ dbt.type_timestamp() }}) as loaded_at
    from {{ source('simtom', 'transactions') }}
    where {{ bnpl_recounted_day_filter('cast(transaction_date as date)', rebuilt_days) }}

),

raw_days as (

    select
        transaction_date,
        count(*) as raw_rows,
        count(distinct transaction_key) as raw_distinct_transaction_keys,
        max(loaded_at) as loaded_at
    from raw_transactions
    group by transaction_date

),

{#- Raw quarantine rows as loaded (stg_simtom__quarantine keeps one per key). -#}
raw_quarantine as (

    select
        cast(extraction_date as date) as extraction_date,
        cast(extraction_run_id as {{ dbt.type_string() }}) as extraction_run_id,
        cast(_sdc_batched_at as {{ dbt.type_timestamp() }}) as loaded_at
    from {{ source('simtom', 'quarantine') }}
    where {{ bnpl_recounted_day_filter('cast(extraction_date as date)', rebuilt_days) }}

),

quarantine_days as (

    select extraction_date, max(loaded_at) as loaded_at
    from raw_quarantine
    group by extraction_date

),

{#- Every run with raw rows of a day: its transactions and its quarantined lines. -#}
loaded_runs as (

    select transaction_date as day, extraction_run_id, count(*) as transaction_rows,
        0 as quarantine_rows
    from raw_transactions
    group by transaction_date, extraction_run_id
    union all
    select extraction_date, extraction_run_id, 0, count(*)
    from raw_quarantine
    group by extraction_date, extraction_run_id

),

run_days as (

    select day, extraction_run_id, sum(transaction_rows) as transaction_rows,
        sum(quarantine_rows) as quarantine_rows
    from loaded_runs
    group by day, extraction_run_id

),

latest_run_days as (

    select
        latest_extractions.extraction_date,
        coalesce(run_days.transaction_rows, 0) as latest_run_raw_rows,
        coalesce(run_days.quarantine_rows, 0) as latest_run_quarantine_rows
    from latest_extractions
    left join run_days
        on run_days.day = latest_extractions.extraction_date
        and run_days.extraction_run_id = latest_extractions.extraction_run_id

),

{#- Runs whose rows of a day have no extraction_log row for that day (a lost log load). -#}
unlogged_run_days as (

    select run_days.day, count(*) as unlogged_runs
    from run_days
    left join extraction_log
        on extraction_log.extraction_date = run_days.day
        and extraction_log.extraction_run_id = run_days.extraction_run_id
    where extraction_log.extraction_run_id is null
    group by run_days.day

),

staged_days as (

    select
        staged.transaction_date,
        count(*) as staged_rows,
        sum(case when staged.extraction_run_id = latest_extractions.extraction_run_id then 1 else 0 end)
            as staged_rows_of_latest_run
    from {{ ref('stg_simtom__transactions') }} as staged
    left join latest_extractions
        on latest_extractions.extraction_date = staged.transaction_date
    where {{ bnpl_recounted_day_filter('staged.transaction_date', rebuilt_days) }}
    group by staged.transaction_date

),

all_days as (

    select extraction_date as reconciliation_date from latest_extractions
    union distinct
    select transaction_date from raw_days
    union distinct
    select extraction_date from quarantine_days

),

counted_days as (

    select
        all_days.reconciliation_date,
        latest_extractions.extraction_key as latest_extraction_key,
        latest_extractions.extraction_run_id as latest_extraction_run_id,
        coalesce(extraction_counts.extraction_runs, 0) as extraction_runs,
        latest_extractions.records_received,
        latest_extractions.records_emitted,
        latest_extractions.records_quarantined,
        coalesce(raw_days.raw_rows, 0) as raw_rows,
        coalesce(raw_days.raw_distinct_transaction_keys, 0) as raw_distinct_transaction_keys,
        coalesce(latest_run_days.latest_run_raw_rows, 0) as latest_run_raw_rows,
        coalesce(latest_run_days.latest_run_quarantine_rows, 0) as latest_run_quarantine_rows,
        coalesce(unlogged_run_days.unlogged_runs, 0) as unlogged_runs,
        coalesce(staged_days.staged_rows, 0) as staged_rows,
        coalesce(staged_days.staged_rows_of_latest_run, 0) as staged_rows_of_latest_run,
        -- Newest load of the day's raw rows of any kind (the incremental high-water mark).
        {{ bnpl_greatest_not_null(
            'raw_days.loaded_at', 'extraction_counts.loaded_at', 'quarantine_days.loaded_at'
        ) }} as raw_loaded_at
    from all_days
    left join latest_extractions
        on all_days.reconciliation_date = latest_extractions.extraction_date
    left join extraction_counts
        on all_days.reconciliation_date = extraction_counts.extraction_date
    left join latest_run_days
        on all_days.reconciliation_date = latest_run_days.extraction_date
    left join raw_days
        on all_days.reconciliation_date = raw_days.transaction_date
    left join quarantine_days
        on all_days.reconciliation_date = quarantine_days.extraction_date
    left join unlogged_run_days
        on all_days.reconciliation_date = unlogged_run_days.day
    left join staged_days
        on all_days.reconciliation_date = staged_days.transaction_date

)

select
    counted_days.*,
    -- A day balances when its latest extraction is logged and every count agrees with it:
    -- the run's own raw rows and quarantined lines (nothing lost, nothing loaded twice),
    -- the day's distinct keys in raw, and the staged rows, all of them from that run (a
    -- newer run whose extraction_log load was lost would be what staging serves).
    -- Older runs' leftovers without a log row (a crash before its log row was committed)
    -- are superseded in staging and do not unbalance the day; unlogged_runs shows them.
    coalesce(
        latest_extraction_run_id is not null
        and latest_run_raw_rows = records_emitted
        and raw_distinct_transaction_keys = records_emitted
        and staged_rows = records_emitted
        and staged_rows_of_latest_run = records_emitted
        and latest_run_quarantine_rows = records_quarantined,
        false
    ) as is_balanced,
    {{ bnpl_audit_columns() }}
from counted_days
