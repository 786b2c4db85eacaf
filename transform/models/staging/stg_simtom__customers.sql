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
  One row per customer profile: a customer_key with one set of attributes. The same profile
  arrives again when a request is replayed; the latest extraction wins. Incremental like
  stg_simtom__transactions: only raw rows loaded after the newest load already staged.
-#}
with raw_customers as (

    select * from {{ source('simtom', 'customers') }}
    {% if is_incremental() -%}
    where _sdc_batched_at > {{ bnpl_high_water_mark('loaded_at') }}
    {%- endif %}

),

typed_customers as (

    select
        cast(customer_profile_key as {{ dbt.type_string() }}) as customer_profile_key,
        cast(customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(customer_id as {{ dbt.type_string() }}) as simtom_customer_id,
        cast(customer_age_bracket as {{ dbt.type_string() }}) as customer_age_bracket,
        cast(customer_tenure_days as {{ dbt.type_int() }}) as customer_tenure_days_at_request,
        cast(customer_income_bracket as {{ dbt.type_string() }}) as customer_income_bracket,
        cast(customer_credit_score_range as {{ dbt.type_string() }}) as customer_credit_score_range,
        cast(customer_verification_level as {{ dbt.type_string() }}) as customer_verification_level,
        cast(customer_address_stability as {{ dbt.type_string() }}) as customer_address_stability,
        cast(customer_state as {{ dbt.type_string() }}) as customer_state,
        cast(first_seen_at as {{ dbt.type_timestamp() }}) as first_seen_at,
        cast(first_seen_date as date) as first_seen_date,
        cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at,
        cast(extraction_run_id as {{ dbt.type_string() }}) as extraction_run_id,
        cast(_sdc_batched_at as {{ dbt.type_timestamp() }}) as loaded_at

    from raw_customers

),

latest_new_extractions as (

    {{ bnpl_latest_row_per_key('typed_customers', 'customer_profile_key', bnpl_extraction_recency_order()) }}

)

select
    latest_new_extractions.*,
    {{ bnpl_audit_columns() }}
from latest_new_extractions
{{ bnpl_keep_later_extractions('latest_new_extractions', 'customer_profile_key') }}
