{#-
  DuckDB: write table and column comments only when a run (re)creates the relation. A merge
  into an existing incremental table keeps its comments, and rewriting ~60 column comments
  on a million-row table after every daily merge cost seconds per model. A description
  edited since stays unwritten until the model is rebuilt (`--full-refresh`).
-#}
{% macro duckdb__persist_docs(relation, model, for_relation=true, for_columns=true) -%}
    {%- if model.config.materialized == 'incremental' and is_incremental() -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(default__persist_docs(relation, model, for_relation, for_columns)) }}
{%- endmacro %}
