-- simtom's BNPL rule: the customer pays exactly the product's price.
select transaction_key, amount, product_price
from {{ ref('stg_simtom__transactions') }}
where {{ bnpl_written_scope(ref('stg_simtom__transactions'), 'transaction_date') }}
    and (
        amount != product_price
        or amount is null
        or product_price is null
    )
