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
  One row per transaction: the enriched fact, labels included. Incremental: a run merges
  the days loaded since the last run plus the last `bnpl_lookback_days` days, read first and
  written into the SQL as constants, so neither the staged rows nor this table is read
  beyond those days (a transaction_key embeds its day, so its merged row is in them too).
-#}
{%- set merged_days = bnpl_incremental_days(ref('int_bnpl_transactions_enriched')) if is_incremental() else [] -%}
with enriched_transactions as (

    select {{ bnpl_star_except('enriched', ['dbt_invocation_id', 'dbt_updated_at']) }}
    from {{ ref('int_bnpl_transactions_enriched') }} as enriched
    where {{ bnpl_recounted_day_filter('enriched.transaction_date', merged_days) }}

),

transactions_with_previous_customer as (

    select
        enriched_transactions.*,
        {% if is_incremental() -%}
        -- A re-extraction in another request can hand a transaction_key to another customer
        -- (customer keys depend on the request body); the customer marts rebuild both.
        {%- set merged_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list if execute else [] %}
        case
            when merged.customer_key != enriched_transactions.customer_key then merged.customer_key
            {% if 'previous_customer_key' in merged_columns -%}
            else merged.previous_customer_key
            {%- endif %}
        end
        {%- else -%}
        cast(null as {{ dbt.type_string() }})
        {%- endif %} as previous_customer_key
    from enriched_transactions
    {% if is_incremental() -%}
    left join {{ this }} as merged
        on enriched_transactions.transaction_key = merged.transaction_key
        and {{ bnpl_recounted_day_filter('merged.transaction_date', merged_days) }}
    {%- endif %}

)

select
    transaction_key,
    transaction_date,
    transacted_at,
    customer_key,
    previous_customer_key,
    customer_profile_key,
    simtom_transaction_id,
    simtom_customer_id,
    simtom_record_id,
    simtom_generator,
    amount,
    currency,
    status,
    amount_band,
    installment_count,
    first_payment_amount,
    first_payment_ratio,
    payment_frequency,
    risk_scenario,
    risk_score,
    risk_level,
    purchase_context,
    checkout_speed,
    cart_abandonment_count,
    price_comparison_seconds,
    time_on_site_seconds,
    credit_utilization,
    economic_stress_factor,
    customer_age_bracket,
    customer_tenure_days_at_request,
    customer_tenure_days_at_transaction,
    is_before_customer_signup,
    customer_income_bracket,
    customer_credit_score_range,
    customer_verification_level,
    customer_address_stability,
    customer_state,
    product_id,
    product_category,
    product_subcategory,
    product_brand,
    product_price,
    product_bnpl_eligible,
    product_risk_category,
    device_id,
    device_type,
    device_os,
    device_is_trusted,
    payment_method_id,
    payment_provider,
    payment_type,
    payment_credit_limit,
    amount_to_credit_limit_ratio,
    day_type,
    iso_day_of_week,
    holiday_name,
    transaction_hour,
    is_business_hours,
    will_default,
    days_to_first_missed_payment,
    extraction_run_id,
    requested_at,
    days_from_transaction_to_request,
    window_start,
    window_end,
    loaded_at,
    {{ bnpl_audit_columns() }}
from transactions_with_previous_customer
