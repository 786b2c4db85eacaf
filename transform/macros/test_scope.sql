{#-
  What a test reads on a daily build: only the rows this run wrote, so a daily build's tests
  cost what its new data costs. A model opts in with `meta: {bnpl_test_scope: <column>}`; a
  column-level test of it then reads every row whose <column> value (transaction_date or
  customer_key) appears among the rows this invocation wrote. Scoping by that value, not by
  the invocation id alone, keeps key uniqueness meaningful: a duplicate of a written key
  shares its day (transaction_key embeds the date) or its customer, so it is read too.

  Everything is tested on a full refresh (`--full-refresh`), on `dbt test` run on its own, and
  when var `bnpl_test_full_history` is true.
-#}
{% macro bnpl_tests_read_full_history() -%}
    {{ return(
        flags.FULL_REFRESH
        or flags.WHICH != 'build'
        or (var('bnpl_test_full_history', false) | string | lower) in ['true', '1', 'yes']
    ) }}
{%- endmacro %}

{#- A filter on `relation` to what the test reads (see above); `true` for everything. -#}
{% macro bnpl_written_scope(relation, column) -%}
    {%- if bnpl_tests_read_full_history() -%}
        true
    {%- else -%}
        {{ column }} in (
            select {{ column }} from {{ relation }}
            where dbt_invocation_id = '{{ invocation_id }}'
        )
    {%- endif -%}
{%- endmacro %}

{#-
  dbt wraps every generic test's model in get_where_subquery; this adds the written-rows
  scope to column-level tests of models that declare `bnpl_test_scope` in their meta.
-#}
{% macro default__get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do filters.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.attached_node) if model.attached_node else none -%}
    {%- set scope_column = (tested.config.meta or {}).get('bnpl_test_scope') if tested else none -%}
    {%- if scope_column and model.column_name and not bnpl_tests_read_full_history() -%}
        {%- do filters.append(bnpl_written_scope(relation, scope_column)) -%}
    {%- endif -%}
    {%- if filters -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ (filters | join(' and ')) ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
