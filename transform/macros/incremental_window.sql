{#-
  The newest value of `column` already in the incremental model being built, or a time long
  before any data when the model is empty (so an empty first build does not freeze it) or
  was built before it had the column (an upgraded project: every row counts as new once).
  Read once when the model runs and written into its SQL as a constant, so filters on it
  prune row groups (DuckDB) and partitions (BigQuery) instead of joining a subquery.
-#}
{% macro bnpl_high_water_mark(column, relation=none, type=none) -%}
    {%- set relation = relation if relation is not none else this -%}
    {%- set type = type or dbt.type_timestamp() -%}
    {%- set floor = "cast('1900-01-01" ~ ("" if type == 'date' else " 00:00:00") ~ "' as " ~ type ~ ")" -%}
    {#- A unit test's `this` is a fixture name, not a relation: keep the subquery there. -#}
    {%- if not execute or relation is string -%}
        coalesce((select max({{ column }}) from {{ relation }}), {{ floor }})
    {%- else -%}
        {%- set existing_columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
        {%- set newest = run_query('select max(' ~ column ~ ') from ' ~ relation).columns[0].values()[0]
            if column | lower in existing_columns else none -%}
        {%- if newest is none -%}
            {{ floor }}
        {%- else -%}
            cast('{{ newest }}' as {{ type }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

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
            {{ loaded_at_column }} > {{ bnpl_high_water_mark(loaded_at_column) }}
            or {{ date_column }} > {{ dbt.dateadd('day', -1 * (var('bnpl_lookback_days') | int), bnpl_high_water_mark(date_column, type='date')) }}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#-
  Whether extraction `new` replaces extraction `old` of the same key: the later request
  wins, then the later load, then the greater run id (the order staging deduplicates by).
-#}
{% macro bnpl_is_later_extraction(new, old) -%}
    (
        {{ new }}.requested_at > {{ old }}.requested_at
        or ({{ new }}.requested_at = {{ old }}.requested_at and {{ new }}.loaded_at > {{ old }}.loaded_at)
        or (
            {{ new }}.requested_at = {{ old }}.requested_at
            and {{ new }}.loaded_at = {{ old }}.loaded_at
            and {{ new }}.extraction_run_id > {{ old }}.extraction_run_id
        )
    )
{%- endmacro %}

{# Audit columns on every incrementally merged row: which dbt invocation wrote it, and when. #}
{% macro bnpl_audit_columns() -%}
    cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as dbt_invocation_id,
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as dbt_updated_at
{%- endmacro %}

{#-
  Post-hook of customer-grain marts built from transactions: a re-extraction can move every
  transaction of a customer to another customer key; a full rebuild would then have no row
  for it, so neither may an incremental one.
-#}
{% macro bnpl_delete_customers_without_transactions() -%}
    delete from {{ this }} as customer_rows
    where customer_rows.customer_key in (
        select previous_customer_key from {{ ref('mart_bnpl_transactions') }}
        where previous_customer_key is not null
    )
    and not exists (
        select 1 from {{ ref('mart_bnpl_transactions') }} as transactions
        where transactions.customer_key = customer_rows.customer_key
    )
{%- endmacro %}

{# The transaction columns mart_bnpl_risk_features segments by. #}
{% macro bnpl_risk_segment_dimensions() -%}
    {{ return([
        'customer_credit_score_range',
        'customer_income_bracket',
        'customer_verification_level',
        'customer_age_bracket',
        'customer_address_stability',
        'risk_scenario',
        'risk_level',
        'amount_band',
        'product_category',
        'product_risk_category',
        'device_type',
        'payment_provider',
        'day_type',
    ]) }}
{%- endmacro %}

{#-
  How incremental models write their rows. DuckDB: delete the keys being rewritten, then
  append (a MERGE that updates every column of a wide million-row table costs several times
  more there). BigQuery: MERGE, which keeps partitions and clustering.
-#}
{% macro bnpl_incremental_strategy() -%}
    {{ return('delete+insert' if target.type == 'duckdb' else 'merge') }}
{%- endmacro %}

{#-
  The days an incremental day-grain model recounts: the dates `days_query` returns (its
  first column), read once when the model runs. Empty outside an incremental run.
-#}
{% macro bnpl_recounted_days(days_query) -%}
    {%- set days = [] -%}
    {%- if is_incremental() and execute -%}
        {%- for row in run_query(days_query).rows if row[0] is not none -%}
            {%- do days.append(row[0] | string) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(days) }}
{%- endmacro %}

{#-
  Predicate: `date_expression` is one of the recounted days, written as constants so scans
  prune; `true` outside an incremental run (a full build counts every day).
-#}
{% macro bnpl_recounted_day_filter(date_expression, days) -%}
    {%- if not is_incremental() -%}
        true
    {%- elif not days -%}
        false
    {%- else -%}
        {{ date_expression }} in ({% for day in days %}cast('{{ day }}' as date){% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}
