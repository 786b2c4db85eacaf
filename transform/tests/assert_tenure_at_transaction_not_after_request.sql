-- Tenure at the transaction cannot exceed the tenure simtom reported at request time.
select transaction_key, customer_tenure_days_at_request, customer_tenure_days_at_transaction
from {{ ref('mart_bnpl_transactions') }}
where {{ bnpl_written_scope(ref('mart_bnpl_transactions'), 'transaction_date') }}
    and (
        customer_tenure_days_at_transaction > customer_tenure_days_at_request
        or customer_tenure_days_at_transaction < 0
    )
