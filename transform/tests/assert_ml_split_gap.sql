-- At least `bnpl_split_gap_days` whole days lie between the last day of a split and the first
-- day of the next one that has rows (train -> validation -> test).
with split_ranges as (

    select
        dataset_split,
        case dataset_split when 'train' then 1 when 'validation' then 2 else 3 end as split_rank,
        min(transaction_date) as first_day,
        max(transaction_date) as last_day
    from {{ ref('mart_bnpl_ml_training_set') }}
    where dataset_split in ('train', 'validation', 'test')
    group by dataset_split

),

split_sequence as (

    select
        dataset_split,
        last_day,
        lead(dataset_split) over (order by split_rank) as next_split,
        lead(first_day) over (order by split_rank) as next_first_day
    from split_ranges

)

select dataset_split, last_day, next_split, next_first_day
from split_sequence
where next_first_day is not null
    and {{ dbt.datediff('last_day', 'next_first_day', 'day') }} - 1
        < {{ var('bnpl_split_gap_days', 1) | int }}
