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
  One row per transaction with only what is known when the BNPL decision is made: no
  outcome field, and customer history from the same customer's strictly earlier
  transactions. Earlier transactions' outcomes are not used either: a default shows months
  after the purchase, so it is not known at the next decision.

  Incremental: a row's history features change only when an earlier transaction of the same
  customer changes, so a run rebuilds, for each customer whose transactions the transactions
  mart merged since the last run (or who lost a transaction to a replay), that customer's rows
  from the earliest change onward.
-#}
{#- The transactions mart is read where it is used, not through a shared CTE: DuckDB
    materializes a CTE read twice, which here would copy the whole mart on every run. -#}
with touched_transactions as (

    select transaction_key, customer_key, transacted_at
    from {{ ref('mart_bnpl_transactions') }}
    {% if is_incremental() -%}
    where dbt_updated_at > {{ bnpl_high_water_mark('source_updated_at') }}
    {%- endif %}

),

customer_rebuild_starts as (

    select customer_key, transacted_at as rebuild_from
    from touched_transactions
    {% if is_incremental() -%}
    union all
    -- A replayed day can hand a transaction_key to another customer (customer keys depend on
    -- the request); the customer it was taken from loses history from that point on.
    select previous_features.customer_key, previous_features.transacted_at
    from {{ this }} as previous_features
    inner join touched_transactions
        on previous_features.transaction_key = touched_transactions.transaction_key
    where previous_features.customer_key != touched_transactions.customer_key
    {%- endif %}

),

customers_to_rebuild as (

    select customer_key, min(rebuild_from) as rebuild_from
    from customer_rebuild_starts
    group by customer_key

),

customer_transactions as (

    select
        merged_transactions.*,
        customers_to_rebuild.rebuild_from,
        {{ bnpl_epoch_seconds('merged_transactions.transacted_at') }} as transacted_epoch_seconds,
        case when {{ bnpl_is_high_risk_level('merged_transactions.risk_level') }} then 1 else 0 end
            as is_high_risk_level
    from {{ ref('mart_bnpl_transactions') }} as merged_transactions
    inner join customers_to_rebuild
        on merged_transactions.customer_key = customers_to_rebuild.customer_key

),

customer_history_before_transaction as (

    {#- Frames end 1 second before the row's timestamp: transactions in the same second are
        not earlier, whichever order they happen to sort in. -#}
    {%- set strictly_earlier = 'partition by customer_key order by transacted_epoch_seconds range between unbounded preceding and 1 preceding' -%}
    {%- set earlier_7_days = 'partition by customer_key order by transacted_epoch_seconds range between 604800 preceding and 1 preceding' -%}
    select
        customer_transactions.*,
        count(*) over ({{ strictly_earlier }}) as prior_transaction_count,
        coalesce(sum(amount) over ({{ strictly_earlier }}), 0) as prior_amount_sum,
        avg(amount) over ({{ strictly_earlier }}) as prior_amount_avg,
        max(amount) over ({{ strictly_earlier }}) as prior_amount_max,
        coalesce(sum(is_high_risk_level) over ({{ strictly_earlier }}), 0) as prior_high_risk_level_count,
        avg(risk_score) over ({{ strictly_earlier }}) as prior_risk_score_avg,
        max(transacted_epoch_seconds) over ({{ strictly_earlier }}) as previous_transaction_epoch_seconds,
        count(*) over ({{ earlier_7_days }}) as prior_7d_transaction_count,
        coalesce(sum(amount) over ({{ earlier_7_days }}), 0) as prior_7d_amount_sum
    from customer_transactions

)

select
    transaction_key,
    transaction_date,
    transacted_at,
    customer_key,
    customer_profile_key,

    amount,
    amount_band,
    installment_count,
    first_payment_amount,
    first_payment_ratio,
    amount_to_credit_limit_ratio,
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
    customer_tenure_days_at_transaction,
    is_before_customer_signup,
    customer_income_bracket,
    customer_credit_score_range,
    customer_verification_level,
    customer_address_stability,
    customer_state,

    product_category,
    product_subcategory,
    product_brand,
    product_bnpl_eligible,
    product_risk_category,
    device_type,
    device_os,
    device_is_trusted,
    payment_provider,
    payment_type,
    payment_credit_limit,

    day_type,
    iso_day_of_week,
    transaction_hour,
    is_business_hours,

    prior_transaction_count,
    prior_transaction_count = 0 as is_first_transaction,
    prior_amount_sum,
    prior_amount_avg,
    prior_amount_max,
    {{ bnpl_safe_divide('amount', 'prior_amount_avg') }} as amount_to_prior_avg_ratio,
    prior_high_risk_level_count,
    prior_risk_score_avg,
    transacted_epoch_seconds - previous_transaction_epoch_seconds
        as seconds_since_previous_transaction,
    prior_7d_transaction_count,
    prior_7d_amount_sum,

    dbt_updated_at as source_updated_at,
    {{ bnpl_audit_columns() }}
from customer_history_before_transaction
where transacted_at >= rebuild_from
