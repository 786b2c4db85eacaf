{#-
  The rows an incremental run of a transaction-grain mart must (re)build:
  - every row loaded after the newest load already merged (new days and replayed days,
    however old), and
  - the last `bnpl_lookback_days` days already merged (late or corrected data whose load
    timestamp did not move).
  Outside an incremental run this renders `true`, so a full refresh builds everything.
-#}
{% macro bnpl_incremental_window(date_column='transaction_date', loaded_at_column='loaded_at') -%}
    {%- if is_incremental() -%}
        (
            {{ loaded_at_column }} > (select max({{ loaded_at_column }}) from {{ this }})
            or {{ date_column }} > (
                select {{ dbt.dateadd('day', -1 * (var('bnpl_lookback_days') | int), 'max(' ~ date_column ~ ')') }}
                from {{ this }}
            )
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# Audit columns on every incrementally merged row: which dbt invocation wrote it, and when. #}
{% macro bnpl_audit_columns() -%}
    cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as dbt_invocation_id,
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as dbt_updated_at
{%- endmacro %}
