{#- One row per rejected response line: what the tap could not turn into a transaction. -#}
with raw_quarantine as (

    select * from {{ source('simtom', 'quarantine') }}

),

typed_quarantine as (

    select
        cast(quarantine_key as {{ dbt.type_string() }}) as quarantine_key,
        cast(extraction_run_id as {{ dbt.type_string() }}) as extraction_run_id,
        cast(extraction_date as date) as extraction_date,
        cast(window_start as date) as window_start,
        cast(window_end as date) as window_end,
        cast(line_number as {{ dbt.type_bigint() }}) as line_number,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(raw_line as {{ dbt.type_string() }}) as raw_line,
        cast(quarantined_at as {{ dbt.type_timestamp() }}) as quarantined_at,
        cast(_sdc_batched_at as {{ dbt.type_timestamp() }}) as loaded_at

    from raw_quarantine

),

latest_loads as (

    {{ bnpl_latest_row_per_key('typed_quarantine', 'quarantine_key', 'loaded_at desc') }}

)

select * from latest_loads
