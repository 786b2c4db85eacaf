-- days_to_first_missed_payment is null exactly when the transaction does not default.
select transaction_key, will_default, days_to_first_missed_payment
from {{ ref('stg_simtom__transactions') }}
where {{ bnpl_written_scope(ref('stg_simtom__transactions'), 'transaction_date') }}
    and (
        (will_default and days_to_first_missed_payment is null)
        or (not will_default and days_to_first_missed_payment is not null)
        or will_default is null
    )
