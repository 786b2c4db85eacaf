{{
    config(
        materialized='incremental',
        unique_key='transaction_key',
        incremental_strategy=bnpl_incremental_strategy(),
        on_schema_change='append_new_columns',
        partition_by=bnpl_day_partition('transaction_date'),
        cluster_by=['transaction_key'],
    )
}}
{#-
  One row per transaction_key. The raw layer is append-only and can hold a day more than once
  (a crashed run replayed, or a day re-extracted inside another window); the latest
  extraction wins. Incremental: a run reads only the raw rows loaded after the newest load
  already staged, and merges each key whose new extraction beats the one staged.
-#}
with raw_transactions as (

    select * from {{ source('simtom', 'transactions') }}
    {% if is_incremental() -%}
    where _sdc_batched_at > {{ bnpl_high_water_mark('loaded_at') }}
    {%- endif %}

),

typed_transactions as (

    select
        cast(transaction_key as {{ dbt.type_string() }}) as transaction_key,
        cast(transaction_date as date) as transaction_date,
        cast(_timestamp as {{ dbt.type_timestamp() }}) as transacted_at,
        cast(customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(customer_profile_key as {{ dbt.type_string() }}) as customer_profile_key,

        cast(transaction_id as {{ dbt.type_string() }}) as simtom_transaction_id,
        cast(customer_id as {{ dbt.type_string() }}) as simtom_customer_id,
        cast(_record_id as {{ dbt.type_bigint() }}) as simtom_record_id,
        cast(_generator as {{ dbt.type_string() }}) as simtom_generator,

        cast(amount as {{ bnpl_type_double() }}) as amount,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(installment_count as {{ dbt.type_int() }}) as installment_count,
        cast(first_payment_amount as {{ bnpl_type_double() }}) as first_payment_amount,
        cast(payment_frequency as {{ dbt.type_string() }}) as payment_frequency,

        cast(risk_scenario as {{ dbt.type_string() }}) as risk_scenario,
        cast(risk_score as {{ bnpl_type_double() }}) as risk_score,
        cast(risk_level as {{ dbt.type_string() }}) as risk_level,
        cast(purchase_context as {{ dbt.type_string() }}) as purchase_context,
        cast(checkout_speed as {{ dbt.type_string() }}) as checkout_speed,
        cast(cart_abandonment_count as {{ dbt.type_int() }}) as cart_abandonment_count,
        cast(price_comparison_time as {{ dbt.type_int() }}) as price_comparison_seconds,
        cast(time_on_site_seconds as {{ dbt.type_int() }}) as time_on_site_seconds,
        cast(credit_utilization as {{ bnpl_type_double() }}) as credit_utilization,
        cast(economic_stress_factor as {{ bnpl_type_double() }}) as economic_stress_factor,

        cast(customer_age_bracket as {{ dbt.type_string() }}) as customer_age_bracket,
        -- simtom counts tenure up to its clock at request time, not up to _timestamp.
        cast(customer_tenure_days as {{ dbt.type_int() }}) as customer_tenure_days_at_request,
        cast(customer_income_bracket as {{ dbt.type_string() }}) as customer_income_bracket,
        cast(customer_credit_score_range as {{ dbt.type_string() }}) as customer_credit_score_range,
        cast(customer_verification_level as {{ dbt.type_string() }}) as customer_verification_level,
        cast(customer_address_stability as {{ dbt.type_string() }}) as customer_address_stability,
        cast(customer_state as {{ dbt.type_string() }}) as customer_state,

        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(product_category as {{ dbt.type_string() }}) as product_category,
        cast(product_subcategory as {{ dbt.type_string() }}) as product_subcategory,
        cast(product_brand as {{ dbt.type_string() }}) as product_brand,
        cast(product_price as {{ bnpl_type_double() }}) as product_price,
        cast(product_bnpl_eligible as {{ dbt.type_boolean() }}) as product_bnpl_eligible,
        cast(product_risk_category as {{ dbt.type_string() }}) as product_risk_category,

        cast(device_id as {{ dbt.type_string() }}) as device_id,
        cast(device_type as {{ dbt.type_string() }}) as device_type,
        cast(device_os as {{ dbt.type_string() }}) as device_os,
        cast(device_is_trusted as {{ dbt.type_boolean() }}) as device_is_trusted,

        cast(payment_method_id as {{ dbt.type_string() }}) as payment_method_id,
        cast(payment_provider as {{ dbt.type_string() }}) as payment_provider,
        cast(payment_type as {{ dbt.type_string() }}) as payment_type,
        cast(payment_credit_limit as {{ dbt.type_int() }}) as payment_credit_limit,

        -- Outcomes, known only in hindsight: labels, never features.
        cast(will_default as {{ dbt.type_boolean() }}) as will_default,
        cast(days_to_first_missed_payment as {{ dbt.type_int() }}) as days_to_first_missed_payment,

        -- Fields simtom sent that the tap does not know, kept rather than dropped.
        {{ bnpl_json('extra_fields') }} as extra_fields,

        cast(extraction_run_id as {{ dbt.type_string() }}) as extraction_run_id,
        cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at,
        cast(window_start as date) as window_start,
        cast(window_end as date) as window_end,
        cast(_sdc_extracted_at as {{ dbt.type_timestamp() }}) as extracted_at,
        cast(_sdc_batched_at as {{ dbt.type_timestamp() }}) as loaded_at

    from raw_transactions

),

latest_new_extractions as (

    {{ bnpl_latest_row_per_key('typed_transactions', 'transaction_key', bnpl_extraction_recency_order()) }}

)

select
    latest_new_extractions.*,
    {{ bnpl_audit_columns() }}
from latest_new_extractions
{{ bnpl_keep_later_extractions('latest_new_extractions', 'transaction_key') }}
