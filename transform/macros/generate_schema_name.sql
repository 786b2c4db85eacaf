{#-
  Layers land in fixed schemas: staging / intermediate / marts on DuckDB, and the datasets
  bnpl_staging (staging and intermediate) / bnpl_marts on BigQuery. Nodes without a layer
  fall back to the target's schema, as dbt does by default.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ adapter.dispatch('layer_schema_name', 'bnpl')(custom_schema_name | trim) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__layer_schema_name(layer) -%}
    {{ layer }}
{%- endmacro %}

{% macro bigquery__layer_schema_name(layer) -%}
    {%- set datasets = {'staging': 'bnpl_staging', 'intermediate': 'bnpl_staging', 'marts': 'bnpl_marts'} -%}
    {{ datasets.get(layer, 'bnpl_' ~ layer) }}
{%- endmacro %}
