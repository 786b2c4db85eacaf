{{
    config(
        materialized='incremental',
        unique_key='customer_key',
        incremental_strategy=bnpl_incremental_strategy(),
        on_schema_change='append_new_columns',
        cluster_by=['customer_key'],
    )
}}
{#-
  One row per customer: the current profile and what the customer has done so far.
  Incremental: a run rebuilds the customers whose transactions or profiles were rewritten
  since the last run, and those a re-extraction took a transaction from.
-#}
{%- set customer_filter -%}
    {%- if is_incremental() %}
    where customer_key in (select customer_key from customers_to_rebuild)
    {%- endif -%}
{%- endset -%}
with
{% if is_incremental() -%}
customers_to_rebuild as (

    {{ bnpl_customers_with_rewritten_transactions() }}
    union distinct
    select customer_key from {{ ref('int_bnpl_customer_profiles') }}
    where dbt_updated_at > {{ bnpl_high_water_mark('source_updated_at') }}

),

{% endif -%}
customer_profiles as (

    select * from {{ ref('int_bnpl_customer_profiles') }}
    {{ customer_filter }}

),

current_profiles as (

    select * from customer_profiles
    where is_current

),

profile_counts as (

    select customer_key, count(*) as profile_versions, max(dbt_updated_at) as profiles_updated_at
    from customer_profiles
    group by customer_key

),

transaction_totals as (

    select
        customer_key,
        count(*) as transaction_count,
        sum(amount) as total_amount,
        avg(amount) as avg_amount,
        min(transacted_at) as first_transaction_at,
        max(transacted_at) as last_transaction_at,
        max(customer_tenure_days_at_transaction) as tenure_days_at_last_transaction,
        max(dbt_updated_at) as transactions_updated_at
    from {{ ref('mart_bnpl_transactions') }}
    {{ customer_filter }}
    group by customer_key

)

select
    current_profiles.customer_key,
    current_profiles.customer_profile_key as current_customer_profile_key,
    current_profiles.simtom_customer_id,
    current_profiles.valid_from as current_profile_valid_from,
    profile_counts.profile_versions,
    current_profiles.customer_age_bracket,
    current_profiles.customer_income_bracket,
    current_profiles.customer_credit_score_range,
    current_profiles.customer_verification_level,
    current_profiles.customer_address_stability,
    current_profiles.customer_state,
    coalesce(transaction_totals.transaction_count, 0) as transaction_count,
    coalesce(transaction_totals.total_amount, 0) as total_amount,
    transaction_totals.avg_amount,
    transaction_totals.first_transaction_at,
    transaction_totals.last_transaction_at,
    transaction_totals.tenure_days_at_last_transaction,
    -- Newest dbt_updated_at of the rows this one was built from (incremental high-water mark).
    {{ bnpl_greatest_not_null(
        'transaction_totals.transactions_updated_at', 'profile_counts.profiles_updated_at'
    ) }} as source_updated_at,
    {{ bnpl_audit_columns() }}
from current_profiles
inner join profile_counts
    on current_profiles.customer_key = profile_counts.customer_key
left join transaction_totals
    on current_profiles.customer_key = transaction_totals.customer_key
