{#-
  Risk aggregates by segment, one row per (segment dimension, segment value): how much
  business each segment brings and how it defaults. Built on outcomes, so for monitoring and
  policy, not to be joined into training rows.
-#}
{%- set segment_dimensions = [
    'customer_credit_score_range',
    'customer_income_bracket',
    'customer_verification_level',
    'customer_age_bracket',
    'customer_address_stability',
    'risk_scenario',
    'risk_level',
    'amount_band',
    'product_category',
    'product_risk_category',
    'device_type',
    'payment_provider',
    'day_type',
] -%}
with transactions as (

    select * from {{ ref('mart_bnpl_transactions') }}

),

segment_aggregates as (

    {% for dimension in segment_dimensions -%}
    select
        '{{ dimension }}' as segment_dimension,
        coalesce(cast({{ dimension }} as {{ dbt.type_string() }}), '(missing)') as segment_value,
        count(*) as transaction_count,
        count(distinct customer_key) as customer_count,
        sum(amount) as total_amount,
        avg(amount) as avg_amount,
        avg(risk_score) as avg_risk_score,
        sum(case when risk_level in ('high', 'very_high') then 1 else 0 end) as high_risk_level_transactions,
        sum(case when will_default then 1 else 0 end) as defaulted_transactions,
        sum(case when will_default then amount else 0 end) as defaulted_amount,
        avg(days_to_first_missed_payment) as avg_days_to_first_missed_payment
    from transactions
    group by {{ dimension }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    segment_dimension || ':' || segment_value as segment_key,
    segment_dimension,
    segment_value,
    transaction_count,
    customer_count,
    total_amount,
    avg_amount,
    avg_risk_score,
    {{ bnpl_safe_divide('high_risk_level_transactions', 'transaction_count') }} as high_risk_level_share,
    defaulted_transactions,
    {{ bnpl_safe_divide('defaulted_transactions', 'transaction_count') }} as default_rate,
    {{ bnpl_safe_divide('defaulted_amount', 'total_amount') }} as defaulted_amount_share,
    avg_days_to_first_missed_payment
from segment_aggregates
