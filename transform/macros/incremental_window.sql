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
  The days an incremental run of a transaction-grain mart must (re)build, read from
  `relation` once when the model runs (use with bnpl_recounted_day_filter):
  - every day with a row loaded after the newest load already merged (new days and replayed
    days, however old), and
  - the last `bnpl_lookback_days` days already merged (late or corrected data whose load
    timestamp did not move).
  Whole days, as constants on the date alone, so every scan of them prunes: a filter on
  either column OR the other would read every row of the history. Empty outside an
  incremental run.
-#}
{% macro bnpl_incremental_days(relation, date_column='transaction_date', loaded_at_column='loaded_at') -%}
    {%- set days_query -%}
        select distinct {{ date_column }} from {{ relation }}
        where {{ loaded_at_column }} > {{ bnpl_high_water_mark(loaded_at_column) }}
        union distinct
        select distinct {{ date_column }} from {{ relation }}
        where {{ date_column }} > {{ dbt.dateadd('day', -1 * (var('bnpl_lookback_days') | int), bnpl_high_water_mark(date_column, type='date')) }}
    {%- endset -%}
    {{ return(bnpl_recounted_days(days_query)) }}
{%- endmacro %}

{#-
  The order in which extractions of one key win, as an ORDER BY list, newest first: the later
  request, then the later load, then the greater run id. Staging deduplicates each load by it
  (bnpl_latest_row_per_key).
-#}
{% macro bnpl_extraction_recency_order() -%}
    requested_at desc, loaded_at desc, extraction_run_id desc
{%- endmacro %}

{#- The same order as a predicate: whether extraction `new` of a key replaces `old`. -#}
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

{#-
  The tail of an incremental staging model's final select from `new_rows` (one latest
  extraction per key of this load): joined to the rows already staged, it keeps a new key
  and a key whose new extraction beats the staged one. A load can arrive after a later
  extraction of the same key was staged: the staged copy stays. Nothing outside an
  incremental run.
-#}
{% macro bnpl_keep_later_extractions(new_rows, key_column) -%}
    {%- if is_incremental() -%}
    left join {{ this }} as staged
        on {{ new_rows }}.{{ key_column }} = staged.{{ key_column }}
    where staged.{{ key_column }} is null
        or {{ bnpl_is_later_extraction(new_rows, 'staged') }}
    {%- endif -%}
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

{#-
  The customers an incremental customer-grain mart rebuilds because of transactions: those
  with a transaction merged since the mart's newest source row (`source_updated_at`), and
  those a re-extraction took a transaction from (previous_customer_key). A select of one
  column, customer_key.
-#}
{% macro bnpl_customers_with_rewritten_transactions() -%}
    select customer_key from {{ ref('mart_bnpl_transactions') }}
    where dbt_updated_at > {{ bnpl_high_water_mark('source_updated_at') }}
    union distinct
    select previous_customer_key from {{ ref('mart_bnpl_transactions') }}
    where dbt_updated_at > {{ bnpl_high_water_mark('source_updated_at') }}
        and previous_customer_key is not null
{%- endmacro %}

{# Whether a risk level counts as high risk in the marts' high-risk counts and shares. #}
{% macro bnpl_is_high_risk_level(risk_level_expression) -%}
    {{ risk_level_expression }} in ('high', 'very_high')
{%- endmacro %}

{# The transaction columns int_risk_features_by_window segments by. #}
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
  prune (the range is what DuckDB prunes row groups by; an IN list alone reads them all);
  `true` outside an incremental run (a full build counts every day).
-#}
{% macro bnpl_recounted_day_filter(date_expression, days) -%}
    {%- if not is_incremental() -%}
        true
    {%- elif not days -%}
        false
    {%- else -%}
        {{ date_expression }} between cast('{{ days | min }}' as date) and cast('{{ days | max }}' as date)
        and {{ date_expression }} in ({% for day in days %}cast('{{ day }}' as date){% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}
