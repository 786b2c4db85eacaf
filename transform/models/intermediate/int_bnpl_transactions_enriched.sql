{#-
  One row per transaction, with calendar context, amount bands, and the customer's tenure
  moved back from simtom's request-time clock to the moment of the transaction.
-#}
with transactions as (

    select * from {{ ref('stg_simtom__transactions') }}

),

calendar_days as (

    select * from {{ ref('int_dates_classified') }}

),

transactions_with_calendar as (

    select
        transactions.*,
        calendar_days.day_type,
        calendar_days.iso_day_of_week,
        calendar_days.holiday_name,
        cast(extract(hour from transactions.transacted_at) as {{ dbt.type_int() }}) as transaction_hour,
        -- Days between the transaction and the request that reported it: how far simtom's
        -- clock ran ahead of the transaction when it computed tenure.
        {{ dbt.datediff('transactions.transaction_date', 'cast(transactions.requested_at as date)', 'day') }}
            as days_from_transaction_to_request
    from transactions
    left join calendar_days
        on transactions.transaction_date = calendar_days.date_day

),

transactions_with_tenure as (

    select
        transactions_with_calendar.*,
        customer_tenure_days_at_request - days_from_transaction_to_request
            as customer_tenure_days_unclamped
    from transactions_with_calendar

)

select
    {{ bnpl_star_except('transactions_with_tenure', ['customer_tenure_days_unclamped']) }},
    -- simtom draws signup dates relative to its clock, so a historical transaction can
    -- predate the signup; such a customer had no tenure yet.
    case when customer_tenure_days_unclamped < 0 then 0
        else customer_tenure_days_unclamped end as customer_tenure_days_at_transaction,
    customer_tenure_days_unclamped < 0 as is_before_customer_signup,
    day_type = 'weekday'
        and transaction_hour >= {{ var('bnpl_business_hours_start') }}
        and transaction_hour < {{ var('bnpl_business_hours_end') }} as is_business_hours,
    case
        when amount < 50 then 'under_50'
        when amount < 100 then '50_to_100'
        when amount < 250 then '100_to_250'
        when amount < 500 then '250_to_500'
        when amount < 1000 then '500_to_1000'
        else '1000_and_over'
    end as amount_band,
    {{ bnpl_safe_divide('first_payment_amount', 'amount') }} as first_payment_ratio,
    {{ bnpl_safe_divide('amount', 'payment_credit_limit') }} as amount_to_credit_limit_ratio
from transactions_with_tenure
