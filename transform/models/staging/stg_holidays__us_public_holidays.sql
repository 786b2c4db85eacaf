{#- US federal public holidays (observed dates included), one row per date. -#}
with seeded_holidays as (

    select * from {{ ref('us_public_holidays') }}

),

holidays_by_date as (

    select
        cast(holiday_date as date) as holiday_date,
        cast(holiday_name as {{ dbt.type_string() }}) as holiday_name,
        cast(is_observed_shift as {{ dbt.type_boolean() }}) as is_observed_shift,
        row_number() over (partition by holiday_date order by holiday_name) as name_rank
    from seeded_holidays

)

select holiday_date, holiday_name, is_observed_shift
from holidays_by_date
where name_rank = 1
