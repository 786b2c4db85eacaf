{{
    config(
        materialized='incremental',
        unique_key='reconciliation_date',
        incremental_strategy=bnpl_incremental_strategy(),
        on_schema_change='append_new_columns',
    )
}}
{#-
  One row per day: how many transactions the tap says it emitted (its latest completed
  extraction of the day), how many rows the raw layer holds, and how many reached staging
  and the transactions mart. A day balances when all of them agree.

  Incremental: a run recounts the days with raw rows or extraction-log rows loaded since the
  newest load counted here, and the days the transactions mart rewrote since the last run.
-#}
{%- set rebuilt_days = [] -%}
{%- if is_incremental() and execute -%}
    {%- set days_query -%}
        select distinct cast(transaction_date as date) as day from {{ source('simtom', 'transactions') }}
        where _sdc_batched_at > {{ bnpl_high_water_mark('raw_loaded_at') }}
        union distinct
        select extraction_date from {{ ref('stg_simtom__extraction_log') }}
        where loaded_at > {{ bnpl_high_water_mark('raw_loaded_at') }}
        union distinct
        select transaction_date from {{ ref('mart_bnpl_transactions') }}
        where dbt_updated_at > {{ bnpl_high_water_mark('source_updated_at') }}
    {%- endset -%}
    {%- for row in run_query(days_query).rows if row[0] is not none -%}
        {%- do rebuilt_days.append(row[0] | string) -%}
    {%- endfor -%}
{%- endif -%}
{#- Predicate on the recounted days for a date expression DAY (constants, so scans prune). -#}
{%- set rebuilt_day_filter -%}
    {%- if not is_incremental() -%}
        true
    {%- elif not rebuilt_days -%}
        false
    {%- else -%}
        DAY in ({% for day in rebuilt_days %}cast('{{ day }}' as date){% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endset -%}
with latest_extraction_per_day as (

    select
        extraction_date,
        extraction_run_id,
        records_received,
        records_emitted,
        records_quarantined,
        finished_at,
        row_number() over (
            partition by extraction_date order by requested_at desc, finished_at desc
        ) as extraction_recency_rank
    from {{ ref('stg_simtom__extraction_log') }}
    where {{ rebuilt_day_filter | replace('DAY', 'extraction_date') }}

),

extracted_days as (

    select * from latest_extraction_per_day
    where extraction_recency_rank = 1

),

extraction_counts as (

    select extraction_date, count(*) as extraction_runs, max(loaded_at) as loaded_at
    from {{ ref('stg_simtom__extraction_log') }}
    where {{ rebuilt_day_filter | replace('DAY', 'extraction_date') }}
    group by extraction_date

),

raw_days as (

    select
        cast(transaction_date as date) as transaction_date,
        count(*) as raw_rows,
        count(distinct transaction_key) as raw_distinct_transaction_keys,
        max(_sdc_batched_at) as loaded_at
    from {{ source('simtom', 'transactions') }}
    where {{ rebuilt_day_filter | replace('DAY', 'cast(transaction_date as date)') }}
    group by cast(transaction_date as date)

),

staged_days as (

    select transaction_date, count(*) as staged_rows
    from {{ ref('stg_simtom__transactions') }}
    where {{ rebuilt_day_filter | replace('DAY', 'transaction_date') }}
    group by transaction_date

),

mart_days as (

    select transaction_date, count(*) as mart_rows, max(dbt_updated_at) as source_updated_at
    from {{ ref('mart_bnpl_transactions') }}
    where {{ rebuilt_day_filter | replace('DAY', 'transaction_date') }}
    group by transaction_date

),

all_days as (

    select extraction_date as reconciliation_date from extracted_days
    union distinct
    select transaction_date from raw_days
    union distinct
    select transaction_date from mart_days

)

select
    all_days.reconciliation_date,
    extracted_days.extraction_run_id as latest_extraction_run_id,
    coalesce(extraction_counts.extraction_runs, 0) as extraction_runs,
    extracted_days.records_received,
    extracted_days.records_quarantined,
    coalesce(extracted_days.records_emitted, 0) as extracted_rows,
    coalesce(raw_days.raw_rows, 0) as raw_rows,
    coalesce(raw_days.raw_distinct_transaction_keys, 0) as raw_distinct_transaction_keys,
    coalesce(staged_days.staged_rows, 0) as staged_rows,
    coalesce(mart_days.mart_rows, 0) as mart_rows,
    coalesce(raw_days.raw_rows, 0) - coalesce(raw_days.raw_distinct_transaction_keys, 0)
        as raw_duplicate_rows,
    coalesce(extracted_days.records_emitted, 0) = coalesce(raw_days.raw_distinct_transaction_keys, 0)
        and coalesce(raw_days.raw_distinct_transaction_keys, 0) = coalesce(staged_days.staged_rows, 0)
        and coalesce(staged_days.staged_rows, 0) = coalesce(mart_days.mart_rows, 0)
        as is_balanced,
    -- Newest load of the day's raw and extraction-log rows, and newest mart rewrite of the day
    -- (incremental high-water marks).
    greatest(
        coalesce(raw_days.loaded_at, extraction_counts.loaded_at),
        coalesce(extraction_counts.loaded_at, raw_days.loaded_at)
    ) as raw_loaded_at,
    mart_days.source_updated_at,
    {{ bnpl_audit_columns() }}
from all_days
left join extracted_days
    on all_days.reconciliation_date = extracted_days.extraction_date
left join extraction_counts
    on all_days.reconciliation_date = extraction_counts.extraction_date
left join raw_days
    on all_days.reconciliation_date = raw_days.transaction_date
left join staged_days
    on all_days.reconciliation_date = staged_days.transaction_date
left join mart_days
    on all_days.reconciliation_date = mart_days.transaction_date
