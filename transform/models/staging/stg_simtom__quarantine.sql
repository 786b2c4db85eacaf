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

quarantine_ranked_by_load as (

    select
        typed_quarantine.*,
        row_number() over (partition by quarantine_key order by loaded_at desc) as load_recency_rank
    from typed_quarantine

)

select {{ bnpl_star_except('quarantine_ranked_by_load', ['load_recency_rank']) }}
from quarantine_ranked_by_load
where load_recency_rank = 1
