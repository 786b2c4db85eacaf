{{
    config(
        materialized='incremental',
        unique_key='transaction_key',
        incremental_strategy=bnpl_incremental_strategy(),
        on_schema_change='append_new_columns',
        partition_by=bnpl_day_partition('transaction_date'),
        cluster_by=['customer_key'],
    )
}}
{#-
  The features mart plus the two labels, with a deterministic time-based split: whole days go
  to train, then validation, then test, oldest first, so no model is validated on days older
  than some of its training days. Cut dates can be pinned with vars; otherwise they follow
  from integer percentages of the distinct transaction dates present (no float rounding, so
  DuckDB and BigQuery cut at the same day).

  Incremental: a run merges the feature rows rewritten since the last run (a label changes only
  with its transaction, which rewrites its feature row) and every row of a day whose split
  moved (each new day shifts the percentage cuts).
-#}
{#- The features mart is read where it is used, not through a shared CTE: DuckDB
    materializes a CTE read twice, which here would copy the whole mart on every run. -#}
with labels as (

    select transaction_key, will_default, days_to_first_missed_payment
    from {{ ref('mart_bnpl_transactions') }}

),

transaction_days_in_order as (

    select
        transaction_date,
        row_number() over (order by transaction_date) as day_number,
        count(*) over () as day_count
    from (select distinct transaction_date from {{ ref('mart_bnpl_ml_features') }}) as distinct_days

),

days_with_split as (

    select
        transaction_date,
        case
            {% if var('bnpl_split_test_start') -%}
            when transaction_date >= cast('{{ var("bnpl_split_test_start") }}' as date) then 'test'
            {%- else -%}
            when day_number * 100 > day_count * {{ var('bnpl_split_train_percent') | int + var('bnpl_split_validation_percent') | int }} then 'test'
            {%- endif %}
            {% if var('bnpl_split_validation_start') -%}
            when transaction_date >= cast('{{ var("bnpl_split_validation_start") }}' as date) then 'validation'
            {%- else -%}
            when day_number * 100 > day_count * {{ var('bnpl_split_train_percent') | int }} then 'validation'
            {%- endif %}
            else 'train'
        end as dataset_split
    from transaction_days_in_order

),

{% if is_incremental() -%}
days_with_moved_split as (

    select days_with_split.transaction_date
    from days_with_split
    left join (
        select transaction_date, max(dataset_split) as dataset_split
        from {{ this }}
        group by transaction_date
    ) as previous_splits
        on days_with_split.transaction_date = previous_splits.transaction_date
    where previous_splits.dataset_split is null
        or previous_splits.dataset_split != days_with_split.dataset_split

),

{% endif -%}
features_to_merge as (

    select * from {{ ref('mart_bnpl_ml_features') }}
    {% if is_incremental() -%}
    {#- Two scans, each with a filter the scan itself can apply (an OR across two columns
        would read every row of the features mart). -#}
    where dbt_updated_at > {{ bnpl_high_water_mark('source_updated_at') }}
    union all
    select * from {{ ref('mart_bnpl_ml_features') }}
    where transaction_date in (select transaction_date from days_with_moved_split)
        and dbt_updated_at <= {{ bnpl_high_water_mark('source_updated_at') }}
    {%- endif %}

)

select
    {{ bnpl_star_except('features_to_merge', ['source_updated_at', 'dbt_invocation_id', 'dbt_updated_at']) }},
    labels.will_default,
    labels.days_to_first_missed_payment,
    days_with_split.dataset_split,
    features_to_merge.dbt_updated_at as source_updated_at,
    {{ bnpl_audit_columns() }}
from features_to_merge
inner join labels
    on features_to_merge.transaction_key = labels.transaction_key
inner join days_with_split
    on features_to_merge.transaction_date = days_with_split.transaction_date
