-- Recount each row's history with a self join: only the same customer's transactions from an
-- earlier second may count, whatever the window frames in the model do.
with features as (

    select transaction_key, customer_key, transacted_at, prior_transaction_count, prior_amount_sum
    from {{ ref('mart_bnpl_ml_features') }}
    -- A daily build checks the days it wrote, against each customer's whole history.
    where {{ bnpl_written_scope(ref('mart_bnpl_ml_features'), 'transaction_date') }}

),

transactions as (

    select customer_key, transacted_at, amount
    from {{ ref('mart_bnpl_transactions') }}
    where customer_key in (select customer_key from features)

),

recounted_history as (

    select
        features.transaction_key,
        count(transactions.transacted_at) as earlier_transaction_count,
        coalesce(sum(transactions.amount), 0) as earlier_amount_sum
    from features
    left join transactions
        on features.customer_key = transactions.customer_key
        and transactions.transacted_at < features.transacted_at
    group by features.transaction_key

)

select
    features.transaction_key,
    features.prior_transaction_count,
    recounted_history.earlier_transaction_count,
    features.prior_amount_sum,
    recounted_history.earlier_amount_sum
from features
inner join recounted_history
    on features.transaction_key = recounted_history.transaction_key
where features.prior_transaction_count != recounted_history.earlier_transaction_count
    or abs(features.prior_amount_sum - recounted_history.earlier_amount_sum) > 0.005
