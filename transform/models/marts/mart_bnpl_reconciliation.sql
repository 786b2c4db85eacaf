{#-
  One row per day: how many transactions the tap says it emitted (its latest completed
  extraction of the day), how many rows the raw layer holds, and how many reached staging
  and the transactions mart. A day balances when all of them agree.
-#}
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

),

extracted_days as (

    select * from latest_extraction_per_day
    where extraction_recency_rank = 1

),

extraction_counts as (

    select extraction_date, count(*) as extraction_runs
    from {{ ref('stg_simtom__extraction_log') }}
    group by extraction_date

),

raw_days as (

    select
        cast(transaction_date as date) as transaction_date,
        count(*) as raw_rows,
        count(distinct transaction_key) as raw_distinct_transaction_keys
    from {{ source('simtom', 'transactions') }}
    group by cast(transaction_date as date)

),

staged_days as (

    select transaction_date, count(*) as staged_rows
    from {{ ref('stg_simtom__transactions') }}
    group by transaction_date

),

mart_days as (

    select transaction_date, count(*) as mart_rows
    from {{ ref('mart_bnpl_transactions') }}
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
        as is_balanced
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
