{{
    config(
        materialized='incremental',
        unique_key='transaction_date',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        partition_by=bnpl_day_partition('transaction_date'),
    )
}}
{#-
  One row per day: transactions, volume, default rate and the mix by risk level, with the
  day's type. Incremental: only the days the transactions mart merged since the last run.
-#}
{%- set risk_levels = ['low', 'medium', 'high', 'very_high'] -%}
with merged_transactions as (

    select * from {{ ref('mart_bnpl_transactions') }}

),

days_to_rebuild as (

    select distinct transaction_date
    from merged_transactions
    {% if is_incremental() -%}
    where dbt_updated_at > (select max(source_updated_at) from {{ this }})
    {%- endif %}

),

daily_totals as (

    select
        merged_transactions.transaction_date,
        max(merged_transactions.day_type) as day_type,
        max(merged_transactions.dbt_updated_at) as source_updated_at,
        count(*) as transaction_count,
        count(distinct merged_transactions.customer_key) as customer_count,
        sum(merged_transactions.amount) as total_amount,
        avg(merged_transactions.amount) as avg_amount,
        avg(merged_transactions.risk_score) as avg_risk_score,
        sum(case when merged_transactions.will_default then 1 else 0 end) as defaulted_transactions,
        sum(case when merged_transactions.will_default then merged_transactions.amount else 0 end)
            as defaulted_amount,
        {% for level in risk_levels -%}
        sum(case when merged_transactions.risk_level = '{{ level }}' then 1 else 0 end)
            as {{ level }}_risk_transactions,
        {% endfor -%}
        sum(case when merged_transactions.is_business_hours then 1 else 0 end) as business_hours_transactions
    from merged_transactions
    inner join days_to_rebuild
        on merged_transactions.transaction_date = days_to_rebuild.transaction_date
    group by merged_transactions.transaction_date

)

select
    transaction_date,
    day_type,
    transaction_count,
    customer_count,
    total_amount,
    avg_amount,
    avg_risk_score,
    defaulted_transactions,
    defaulted_amount,
    {{ bnpl_safe_divide('defaulted_transactions', 'transaction_count') }} as default_rate,
    {% for level in risk_levels -%}
    {{ level }}_risk_transactions,
    {{ bnpl_safe_divide(level ~ '_risk_transactions', 'transaction_count') }} as {{ level }}_risk_share,
    {% endfor -%}
    business_hours_transactions,
    source_updated_at,
    {{ bnpl_audit_columns() }}
from daily_totals
