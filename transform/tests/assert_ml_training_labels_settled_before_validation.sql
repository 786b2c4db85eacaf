-- No training row's label became available at or after the validation period starts (the
-- first day any row validates or tests): a model fitted then could not have known it.
-- With the maturity rule turned off (var bnpl_split_require_mature_labels: false, for a
-- demonstration on short data) such rows train by choice: the test then warns, counting them.
{{ config(severity='error' if bnpl_split_requires_mature_labels() else 'warn') }}
with later_splits_start as (

    select min(transaction_date) as first_day
    from {{ ref('mart_bnpl_ml_training_set') }}
    where dataset_split in ('validation', 'test')

)

select
    training_rows.transaction_key,
    training_rows.label_available_at,
    later_splits_start.first_day as validation_start
from {{ ref('mart_bnpl_ml_training_set') }} as training_rows
cross join later_splits_start
where training_rows.dataset_split = 'train'
    and (
        training_rows.label_available_at is null
        or training_rows.label_available_at >= cast(later_splits_start.first_day as {{ dbt.type_timestamp() }})
    )
