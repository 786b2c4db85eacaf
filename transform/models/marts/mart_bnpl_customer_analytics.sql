{{
    config(
        materialized='incremental',
        unique_key='customer_key',
        incremental_strategy=bnpl_incremental_strategy(),
        on_schema_change='append_new_columns',
        cluster_by=['customer_key'],
        post_hook="{{ bnpl_delete_customers_without_transactions() }}",
    )
}}
{#-
  One row per customer with behaviour and outcome KPIs. Outcomes are in here (default rate),
  so this is for reporting and segmentation, not a source of model features.
  Incremental: a run rebuilds the customers whose transactions were rewritten since the last
  run and those a re-extraction took a transaction from (the post-hook drops such a customer
  when it has no transaction left, as a full rebuild would).
-#}
with
{% if is_incremental() -%}
customers_to_rebuild as (

    {{ bnpl_customers_with_rewritten_transactions() }}

),

{% endif -%}
transactions as (

    select * from {{ ref('mart_bnpl_transactions') }}
    {% if is_incremental() -%}
    where customer_key in (select customer_key from customers_to_rebuild)
    {%- endif %}

),

customer_kpis as (

    select
        customer_key,
        count(*) as transaction_count,
        count(distinct transaction_date) as active_days,
        sum(amount) as total_amount,
        avg(amount) as avg_amount,
        max(amount) as max_amount,
        avg(risk_score) as avg_risk_score,
        sum(case when {{ bnpl_is_high_risk_level('risk_level') }} then 1 else 0 end) as high_risk_level_transactions,
        sum(case when will_default then 1 else 0 end) as defaulted_transactions,
        sum(case when will_default then amount else 0 end) as defaulted_amount,
        min(days_to_first_missed_payment) as min_days_to_first_missed_payment,
        sum(case when is_business_hours then 1 else 0 end) as business_hours_transactions,
        sum(case when day_type = 'weekend' then 1 else 0 end) as weekend_transactions,
        sum(case when day_type = 'holiday' then 1 else 0 end) as holiday_transactions,
        sum(case when not device_is_trusted then 1 else 0 end) as untrusted_device_transactions,
        min(transaction_date) as first_transaction_date,
        max(transaction_date) as last_transaction_date,
        max(dbt_updated_at) as source_updated_at
    from transactions
    group by customer_key

)

select
    customer_key,
    transaction_count,
    active_days,
    total_amount,
    avg_amount,
    max_amount,
    avg_risk_score,
    high_risk_level_transactions,
    defaulted_transactions,
    defaulted_amount,
    {{ bnpl_safe_divide('defaulted_transactions', 'transaction_count') }} as default_rate,
    min_days_to_first_missed_payment,
    {{ bnpl_safe_divide('business_hours_transactions', 'transaction_count') }} as business_hours_share,
    {{ bnpl_safe_divide('weekend_transactions', 'transaction_count') }} as weekend_share,
    {{ bnpl_safe_divide('holiday_transactions', 'transaction_count') }} as holiday_share,
    {{ bnpl_safe_divide('untrusted_device_transactions', 'transaction_count') }} as untrusted_device_share,
    first_transaction_date,
    last_transaction_date,
    {{ dbt.datediff('first_transaction_date', 'last_transaction_date', 'day') }} as active_span_days,
    case
        when total_amount >= 2500 then 'high_value'
        when total_amount >= 500 then 'mid_value'
        else 'low_value'
    end as spend_tier,
    source_updated_at,
    {{ bnpl_audit_columns() }}
from customer_kpis
