{#-
  The features mart plus the two labels, with a deterministic time-based split: whole days go
  to train, then validation, then test, oldest first, so no model is validated on days older
  than some of its training days. Cut dates can be pinned with vars; otherwise they follow
  from integer percentages of the distinct transaction dates present (no float rounding, so
  DuckDB and BigQuery cut at the same day).
-#}
with decision_time_features as (

    select * from {{ ref('mart_bnpl_ml_features') }}

),

labels as (

    select transaction_key, will_default, days_to_first_missed_payment
    from {{ ref('mart_bnpl_transactions') }}

),

transaction_days_in_order as (

    select
        transaction_date,
        row_number() over (order by transaction_date) as day_number,
        count(*) over () as day_count
    from (select distinct transaction_date from decision_time_features) as distinct_days

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

)

select
    {{ bnpl_star_except('decision_time_features', ['source_updated_at', 'dbt_invocation_id', 'dbt_updated_at']) }},
    labels.will_default,
    labels.days_to_first_missed_payment,
    days_with_split.dataset_split
from decision_time_features
inner join labels
    on decision_time_features.transaction_key = labels.transaction_key
inner join days_with_split
    on decision_time_features.transaction_date = days_with_split.transaction_date
