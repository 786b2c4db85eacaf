{#-
  The few dialect differences this project meets between DuckDB and BigQuery.
  Everything else uses dbt's own cross-database macros (dbt.dateadd, dbt.datediff,
  dbt.type_string, dbt.current_timestamp, ...).
-#}

{# Double-precision float: dbt.type_float() is single precision on DuckDB. #}
{% macro bnpl_type_double() -%}
    {{ return(adapter.dispatch('bnpl_type_double', 'bnpl')()) }}
{%- endmacro %}
{% macro default__bnpl_type_double() -%} double {%- endmacro %}
{% macro bigquery__bnpl_type_double() -%} float64 {%- endmacro %}

{#-
  A JSON object held as text by the loaders: DuckDB's json type (json_extract and friends
  read it without a cast); BigQuery keeps the string, which its JSON functions accept.
-#}
{% macro bnpl_json(text_expression) -%}
    {{ return(adapter.dispatch('bnpl_json', 'bnpl')(text_expression)) }}
{%- endmacro %}
{% macro default__bnpl_json(text_expression) -%}
    cast({{ text_expression }} as json)
{%- endmacro %}
{% macro bigquery__bnpl_json(text_expression) -%}
    cast({{ text_expression }} as string)
{%- endmacro %}

{# Whole seconds since the Unix epoch, for numeric RANGE window frames. #}
{% macro bnpl_epoch_seconds(timestamp_expression) -%}
    {{ return(adapter.dispatch('bnpl_epoch_seconds', 'bnpl')(timestamp_expression)) }}
{%- endmacro %}
{% macro default__bnpl_epoch_seconds(timestamp_expression) -%}
    cast(epoch({{ timestamp_expression }}) as bigint)
{%- endmacro %}
{% macro bigquery__bnpl_epoch_seconds(timestamp_expression) -%}
    unix_seconds({{ timestamp_expression }})
{%- endmacro %}

{# ISO day of week: 1 = Monday ... 7 = Sunday. #}
{% macro bnpl_iso_day_of_week(date_expression) -%}
    {{ return(adapter.dispatch('bnpl_iso_day_of_week', 'bnpl')(date_expression)) }}
{%- endmacro %}
{% macro default__bnpl_iso_day_of_week(date_expression) -%}
    isodow({{ date_expression }})
{%- endmacro %}
{% macro bigquery__bnpl_iso_day_of_week(date_expression) -%}
    (mod(extract(dayofweek from {{ date_expression }}) + 5, 7) + 1)
{%- endmacro %}

{# Every date from start to end inclusive, as a relation with one column `date_day`. #}
{% macro bnpl_date_series(start_date, end_date) -%}
    {{ return(adapter.dispatch('bnpl_date_series', 'bnpl')(start_date, end_date)) }}
{%- endmacro %}
{% macro default__bnpl_date_series(start_date, end_date) -%}
    select cast(generated.date_day as date) as date_day
    from generate_series(
        cast('{{ start_date }}' as date), cast('{{ end_date }}' as date), interval 1 day
    ) as generated(date_day)
{%- endmacro %}
{% macro bigquery__bnpl_date_series(start_date, end_date) -%}
    select date_day
    from unnest(generate_date_array(date '{{ start_date }}', date '{{ end_date }}')) as date_day
{%- endmacro %}

{# All columns of a relation alias but the listed ones. #}
{% macro bnpl_star_except(relation_alias, column_names) -%}
    {{ return(adapter.dispatch('bnpl_star_except', 'bnpl')(relation_alias, column_names)) }}
{%- endmacro %}
{% macro default__bnpl_star_except(relation_alias, column_names) -%}
    {{ relation_alias }}.* exclude ({{ column_names | join(', ') }})
{%- endmacro %}
{% macro bigquery__bnpl_star_except(relation_alias, column_names) -%}
    {{ relation_alias }}.* except ({{ column_names | join(', ') }})
{%- endmacro %}

{# a / b, or null when b is zero or null. #}
{% macro bnpl_safe_divide(numerator, denominator) -%}
    case when {{ denominator }} is null or {{ denominator }} = 0 then null
        else cast({{ numerator }} as {{ bnpl_type_double() }}) / {{ denominator }} end
{%- endmacro %}

{#-
  Day partitioning for BigQuery tables. DuckDB has no table partitions (dbt-duckdb reads
  partition_by as a file layout), so there it is none.
-#}
{% macro bnpl_day_partition(date_column) -%}
    {%- if target.type == 'bigquery' -%}
        {{ return({'field': date_column, 'data_type': 'date', 'granularity': 'day'}) }}
    {%- else -%}
        {{ return(none) }}
    {%- endif -%}
{%- endmacro %}

{#-
  The greatest of the expressions that are not null (null only when all are). BigQuery's
  greatest is null as soon as one argument is, DuckDB's skips nulls: backing each argument
  by the others in turn gives both the same answer.
-#}
{% macro bnpl_greatest_not_null() -%}
    {%- set expressions = varargs | list -%}
    greatest(
    {%- for index in range(expressions | length) %}
        coalesce({{ (expressions[index:] + expressions[:index]) | join(', ') }})
        {{- ',' if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}
