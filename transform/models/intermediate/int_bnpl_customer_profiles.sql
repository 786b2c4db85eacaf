{{
    config(
        materialized='incremental',
        unique_key='customer_profile_key',
        incremental_strategy=bnpl_incremental_strategy(),
        on_schema_change='append_new_columns',
        cluster_by=['customer_key'],
    )
}}
{#-
  One row per customer profile, with its validity: simtom re-draws a customer it had
  forgotten under the same id, so one customer_key can carry several profiles in turn.
  Incremental: a run rebuilds every profile of each customer with a profile staged since the
  newest one here (a new profile ends the validity of the customer's previous one).
-#}
with customer_profiles as (

    select * from {{ ref('stg_simtom__customers') }}
    {% if is_incremental() -%}
    where customer_key in (
        select customer_key from {{ ref('stg_simtom__customers') }}
        where loaded_at > {{ bnpl_high_water_mark('loaded_at') }}
    )
    {%- endif %}

),

profiles_in_order as (

    select
        customer_profiles.*,
        row_number() over (
            partition by customer_key order by first_seen_at, customer_profile_key
        ) as profile_version,
        lead(first_seen_at) over (
            partition by customer_key order by first_seen_at, customer_profile_key
        ) as next_profile_first_seen_at
    from customer_profiles

)

select
    customer_profile_key,
    customer_key,
    simtom_customer_id,
    profile_version,
    first_seen_at as valid_from,
    next_profile_first_seen_at as valid_to,
    next_profile_first_seen_at is null as is_current,
    customer_age_bracket,
    customer_income_bracket,
    customer_credit_score_range,
    customer_verification_level,
    customer_address_stability,
    customer_state,
    customer_tenure_days_at_request,
    greatest(
        customer_tenure_days_at_request
        - {{ dbt.datediff('first_seen_date', 'cast(requested_at as date)', 'day') }},
        0
    ) as customer_tenure_days_at_first_seen,
    first_seen_date,
    requested_at,
    extraction_run_id,
    loaded_at,
    {{ bnpl_audit_columns() }}
from profiles_in_order
