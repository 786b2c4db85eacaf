{#-
  Risk aggregates by segment, one row per (segment dimension, segment value): how much
  business each segment brings and how it defaults. Built on outcomes, so for monitoring and
  policy, not to be joined into training rows. Summed from int_bnpl_risk_features_by_window,
  which a daily run updates for the new windows only.
-#}
with window_segments as (

    select * from {{ ref('int_bnpl_risk_features_by_window') }}

),

segment_totals as (

    select
        segment_dimension,
        segment_value,
        sum(transaction_count) as transaction_count,
        sum(customer_count) as customer_count,
        sum(amount_sum) as total_amount,
        sum(amount_count) as amount_count,
        sum(risk_score_sum) as risk_score_sum,
        sum(risk_score_count) as risk_score_count,
        sum(high_risk_level_transactions) as high_risk_level_transactions,
        sum(defaulted_transactions) as defaulted_transactions,
        sum(defaulted_amount) as defaulted_amount,
        sum(days_to_first_missed_payment_sum) as days_to_first_missed_payment_sum,
        sum(days_to_first_missed_payment_count) as days_to_first_missed_payment_count
    from window_segments
    group by segment_dimension, segment_value
    having sum(transaction_count) > 0

)

select
    segment_dimension || ':' || segment_value as segment_key,
    segment_dimension,
    segment_value,
    transaction_count,
    customer_count,
    total_amount,
    {{ bnpl_safe_divide('total_amount', 'amount_count') }} as avg_amount,
    {{ bnpl_safe_divide('risk_score_sum', 'risk_score_count') }} as avg_risk_score,
    {{ bnpl_safe_divide('high_risk_level_transactions', 'transaction_count') }} as high_risk_level_share,
    defaulted_transactions,
    {{ bnpl_safe_divide('defaulted_transactions', 'transaction_count') }} as default_rate,
    {{ bnpl_safe_divide('defaulted_amount', 'total_amount') }} as defaulted_amount_share,
    {{ bnpl_safe_divide('days_to_first_missed_payment_sum', 'days_to_first_missed_payment_count') }}
        as avg_days_to_first_missed_payment
from segment_totals
