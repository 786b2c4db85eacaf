-- Train days all precede validation days, which all precede test days; a day is in one of
-- them (excluded rows, which sit among train days and in the gaps, are left out).
with split_ranges as (

    select
        dataset_split,
        min(transaction_date) as first_day,
        max(transaction_date) as last_day
    from {{ ref('mart_bnpl_ml_training_set') }}
    where dataset_split in ('train', 'validation', 'test')
    group by dataset_split

),

split_order as (

    select
        dataset_split,
        first_day,
        last_day,
        case dataset_split when 'train' then 1 when 'validation' then 2 else 3 end as split_rank
    from split_ranges

)

select earlier.dataset_split as earlier_split, later.dataset_split as later_split
from split_order as earlier
inner join split_order as later
    on earlier.split_rank < later.split_rank
where earlier.last_day >= later.first_day
