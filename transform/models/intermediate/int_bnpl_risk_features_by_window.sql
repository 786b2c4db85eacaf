{{
    config(
        materialized='incremental',
        unique_key='window_segment_key',
        incremental_strategy=bnpl_incremental_strategy(),
        on_schema_change='append_new_columns',
        cluster_by=['segment_dimension'],
    )
}}
{#-
  The additive parts of mart_bnpl_risk_features, one row per (request window, segment
  dimension, segment value). A customer key is a hash of one request body, so every
  transaction of a customer lies in that request's window (window_start, window_end): distinct
  customers add up across windows (assert_customer_in_one_request_window checks it).
  Keyed by an extraction detail (the request window), so a building block, not a mart. It
  reads the enriched transactions (the staged rows), so it is built before the quality gate
  with the rest of intermediate; mart_bnpl_risk_features sums it after the gate.

  Incremental: a run rebuilds the windows holding a transaction staged since the last run,
  and the windows that lost a transaction to another window (their stored count no longer
  matches); a segment a rebuilt window no longer has is zeroed, as a rebuild would drop it.
-#}
{%- set segment_dimensions = bnpl_risk_segment_dimensions() -%}
{%- set rebuilt_windows = [] -%}
{%- if is_incremental() and execute -%}
    {#- Read first and written into the SQL as constants, so each of the segment scans below
        reads only the rebuilt windows' rows. -#}
    {%- set windows_query -%}
        with window_transaction_counts as (
            select window_start, window_end, count(*) as transaction_count
            from {{ ref('int_bnpl_transactions_enriched') }}
            group by window_start, window_end
        ),
        stored_window_counts as (
            select window_start, window_end, sum(transaction_count) as transaction_count
            from {{ this }}
            where segment_dimension = '{{ segment_dimensions[0] }}'
            group by window_start, window_end
        )
        select window_start, window_end from {{ ref('int_bnpl_transactions_enriched') }}
        where dbt_updated_at > {{ bnpl_high_water_mark('source_updated_at') }}
        union distinct
        select stored_window_counts.window_start, stored_window_counts.window_end
        from stored_window_counts
        left join window_transaction_counts
            on stored_window_counts.window_start = window_transaction_counts.window_start
            and stored_window_counts.window_end = window_transaction_counts.window_end
        where coalesce(window_transaction_counts.transaction_count, 0) != stored_window_counts.transaction_count
    {%- endset -%}
    {%- for row in run_query(windows_query).rows -%}
        {%- do rebuilt_windows.append([row[0] | string, row[1] | string]) -%}
    {%- endfor -%}
{%- endif -%}
{#- Predicate on the rebuilt windows, written for alias ALIAS. -#}
{%- set rebuilt_window_filter -%}
    {%- if not is_incremental() -%}
        true
    {%- elif not rebuilt_windows -%}
        false
    {%- else -%}
        ALIAS.window_start >= cast('{{ rebuilt_windows | map(attribute=0) | min }}' as date)
        and (
            {%- for window in rebuilt_windows %}
            (ALIAS.window_start = cast('{{ window[0] }}' as date) and ALIAS.window_end = cast('{{ window[1] }}' as date))
            {%- if not loop.last %} or {% endif -%}
            {%- endfor %}
        )
    {%- endif -%}
{%- endset -%}
with window_transactions as (

    select * from {{ ref('int_bnpl_transactions_enriched') }} as transactions
    where {{ rebuilt_window_filter | replace('ALIAS', 'transactions') }}

),

segment_totals as (

    {% for dimension in segment_dimensions -%}
    select
        window_start,
        window_end,
        '{{ dimension }}' as segment_dimension,
        coalesce(cast({{ dimension }} as {{ dbt.type_string() }}), '(missing)') as segment_value,
        count(*) as transaction_count,
        count(distinct customer_key) as customer_count,
        sum(amount) as amount_sum,
        count(amount) as amount_count,
        sum(risk_score) as risk_score_sum,
        count(risk_score) as risk_score_count,
        sum(case when {{ bnpl_is_high_risk_level('risk_level') }} then 1 else 0 end) as high_risk_level_transactions,
        sum(case when will_default then 1 else 0 end) as defaulted_transactions,
        sum(case when will_default then amount else 0 end) as defaulted_amount,
        sum(days_to_first_missed_payment) as days_to_first_missed_payment_sum,
        count(days_to_first_missed_payment) as days_to_first_missed_payment_count,
        max(dbt_updated_at) as source_updated_at
    from window_transactions
    group by window_start, window_end, {{ dimension }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

{% if is_incremental() -%}
vanished_segments as (

    select
        stored.window_start,
        stored.window_end,
        stored.segment_dimension,
        stored.segment_value,
        0 as transaction_count,
        0 as customer_count,
        cast(null as {{ bnpl_type_double() }}) as amount_sum,
        0 as amount_count,
        cast(null as {{ bnpl_type_double() }}) as risk_score_sum,
        0 as risk_score_count,
        0 as high_risk_level_transactions,
        0 as defaulted_transactions,
        cast(0 as {{ bnpl_type_double() }}) as defaulted_amount,
        cast(null as {{ dbt.type_bigint() }}) as days_to_first_missed_payment_sum,
        0 as days_to_first_missed_payment_count,
        stored.source_updated_at
    from {{ this }} as stored
    left join segment_totals
        on stored.window_start = segment_totals.window_start
        and stored.window_end = segment_totals.window_end
        and stored.segment_dimension = segment_totals.segment_dimension
        and stored.segment_value = segment_totals.segment_value
    where {{ rebuilt_window_filter | replace('ALIAS', 'stored') }}
        and segment_totals.segment_value is null

),

{% endif -%}
window_segments as (

    select * from segment_totals
    {% if is_incremental() -%}
    union all
    select * from vanished_segments
    {%- endif %}

)

select
    {{ dbt.concat([
        'cast(window_start as ' ~ dbt.type_string() ~ ')', "'/'",
        'cast(window_end as ' ~ dbt.type_string() ~ ')', "'/'",
        'segment_dimension', "':'", 'segment_value',
    ]) }} as window_segment_key,
    window_start,
    window_end,
    segment_dimension,
    segment_value,
    transaction_count,
    customer_count,
    amount_sum,
    amount_count,
    risk_score_sum,
    risk_score_count,
    high_risk_level_transactions,
    defaulted_transactions,
    defaulted_amount,
    days_to_first_missed_payment_sum,
    days_to_first_missed_payment_count,
    source_updated_at,
    {{ bnpl_audit_columns() }}
from window_segments
