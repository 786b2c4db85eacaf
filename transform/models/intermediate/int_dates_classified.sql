{{ config(materialized='table') }}
{#-
  One row per calendar day with its day type. A public holiday is a holiday even on a
  weekend, so holiday wins over weekend.
-#}
with calendar_days as (

    {{ bnpl_date_series(var('bnpl_calendar_start'), var('bnpl_calendar_end')) }}

),

public_holidays as (

    select * from {{ ref('stg_holidays__us_public_holidays') }}

),

days_with_holidays as (

    select
        calendar_days.date_day,
        {{ bnpl_iso_day_of_week('calendar_days.date_day') }} as iso_day_of_week,
        public_holidays.holiday_name
    from calendar_days
    left join public_holidays
        on calendar_days.date_day = public_holidays.holiday_date

)

select
    date_day,
    iso_day_of_week,
    iso_day_of_week >= 6 as is_weekend,
    holiday_name is not null as is_holiday,
    holiday_name,
    case
        when holiday_name is not null then 'holiday'
        when iso_day_of_week >= 6 then 'weekend'
        else 'weekday'
    end as day_type
from days_with_holidays
