{#- One row per extracted day per tap run. -#}
with raw_extraction_log as (

    select * from {{ source('simtom', 'extraction_log') }}

),

typed_extraction_log as (

    select
        cast(extraction_key as {{ dbt.type_string() }}) as extraction_key,
        cast(extraction_run_id as {{ dbt.type_string() }}) as extraction_run_id,
        cast(extraction_date as date) as extraction_date,
        cast(window_start as date) as window_start,
        cast(window_end as date) as window_end,
        cast(request_start_date as date) as request_start_date,
        cast(request_end_date as date) as request_end_date,
        cast(records_received as {{ dbt.type_int() }}) as records_received,
        cast(records_emitted as {{ dbt.type_int() }}) as records_emitted,
        cast(records_quarantined as {{ dbt.type_int() }}) as records_quarantined,
        cast(attempts as {{ dbt.type_int() }}) as attempts,
        cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(finished_at as {{ dbt.type_timestamp() }}) as finished_at,
        cast(duration_seconds as {{ bnpl_type_double() }}) as duration_seconds,
        cast(api_url as {{ dbt.type_string() }}) as api_url,
        cast(seed as {{ dbt.type_bigint() }}) as seed,
        cast(base_daily_volume as {{ dbt.type_int() }}) as base_daily_volume,
        cast(day_type as {{ dbt.type_string() }}) as volume_profile_day_type,
        cast(_sdc_batched_at as {{ dbt.type_timestamp() }}) as loaded_at

    from raw_extraction_log

),

latest_loads as (

    {{ bnpl_latest_row_per_key('typed_extraction_log', 'extraction_key', 'loaded_at desc') }}

)

select * from latest_loads
