{#-
  Every column of the ML marts, as built, is documented with a known `meta.ml_role`, so the
  ML utility can tell inputs from keys, labels, label proxies, split and audit columns. Fails
  with one row per column the table has but the yml does not document (or documents without a
  role, or with an unknown one), and per documented column the table lacks.
-#}
{%- set ml_roles = ['id', 'feature', 'label', 'label_proxy', 'split', 'audit'] -%}
{%- set ml_marts = [ref('mart_bnpl_ml_features'), ref('mart_bnpl_ml_training_set')] -%}
{%- set problems = [] -%}
{%- if execute -%}
    {%- for relation in ml_marts -%}
        {%- set node = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
            | selectattr('name', 'equalto', relation.identifier) | first -%}
        {%- set roles = {} -%}
        {%- for column in node.columns.values() -%}
            {%- do roles.update({column.name | lower: (column.config.meta or column.meta or {}).get('ml_role')}) -%}
        {%- endfor -%}
        {%- set built_columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
        {%- for name in built_columns -%}
            {%- if name not in roles -%}
                {%- do problems.append((node.name, name, 'not documented in the yml')) -%}
            {%- elif roles[name] is none -%}
                {%- do problems.append((node.name, name, 'no meta.ml_role')) -%}
            {%- elif roles[name] not in ml_roles -%}
                {%- do problems.append((node.name, name, 'unknown ml_role ' ~ roles[name] ~ ' (expected one of ' ~ ml_roles | join(', ') ~ ')')) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for name in roles if name not in built_columns -%}
            {%- do problems.append((node.name, name, 'documented but not in the table')) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif -%}
{%- for model_name, column_name, problem in problems %}
select
    cast('{{ model_name }}' as {{ dbt.type_string() }}) as model_name,
    cast('{{ column_name }}' as {{ dbt.type_string() }}) as column_name,
    cast('{{ problem }}' as {{ dbt.type_string() }}) as problem
{% if not loop.last %}union all{% endif %}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as model_name,
    cast(null as {{ dbt.type_string() }}) as column_name,
    cast(null as {{ dbt.type_string() }}) as problem
from (select 1 as no_row) as nothing
where 1 = 0
{%- endfor %}
