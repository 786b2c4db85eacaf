{{
    config(
        materialized='incremental',
        unique_key='transaction_date',
        incremental_strategy=bnpl_incremental_strategy(),
        on_schema_change='append_new_columns',
        partition_by=bnpl_day_partition('transaction_date'),
    )
}}
{#-
  One row per day: transactions, volume, default rate and the mix by risk level, with the
  day's type. Incremental: only the days the transactions mart merged since the last run.
-#}
{%- set risk_levels = ['low', 'medium', 'high', 'very_high'] -%}
{#- The days to rebuild are read first and written into the SQL as constants, so the scan of
    the transactions mart below reads only those days (row groups / partitions pruned). -#}
{%- set rebuilt_days = [] -%}
{%- if is_incremental() and execute -%}
    {%- set days_query -%}
        select distinct transaction_date from {{ ref('mart_bnpl_transactions') }}
        where dbt_updated_at > {{ bnpl_high_water_mark('source_updated_at') }}
    {%- endset -%}
    {%- for row in run_query(days_query).rows -%}
        {%- do rebuilt_days.append(row[0] | string) -%}
    {%- endfor -%}
{%- endif -%}
{%- set rebuilt_day_filter -%}
    {%- if not is_incremental() -%}
        true
    {%- elif rebuilt_days -%}
        merged_transactions.transaction_date in ({% for day in rebuilt_days %}cast('{{ day }}' as date){% if not loop.last %}, {% endif %}{% endfor %})
    {%- else -%}
        false
    {%- endif -%}
{%- endset -%}
with
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
    from {{ ref('mart_bnpl_transactions') }} as merged_transactions
    where {{ rebuilt_day_filter }}
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
