-- The first instalment is 25% of the amount, rounded to the cent: never more than a cent off.
select transaction_key, amount, first_payment_amount
from {{ ref('stg_simtom__transactions') }}
where {{ bnpl_written_scope(ref('stg_simtom__transactions'), 'transaction_date') }}
    and (
        first_payment_amount is null
        or abs(first_payment_amount - amount * 0.25) > 0.01
    )
