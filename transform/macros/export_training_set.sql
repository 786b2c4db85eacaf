{#-
  Writes mart_bnpl_ml_training_set as Parquet, one folder per split
  (`<uri>/dataset_split=train|validation|test/`), replacing an earlier export. Excluded rows
  (dataset_split `excluded`) and the mart's incremental bookkeeping columns (source_updated_at
  and the audit columns) stay behind.

      dbt run-operation export_training_set                       # uri from BNPL_EXPORT_URI
      dbt run-operation export_training_set --args '{uri: /tmp/training_set}'

  DuckDB: uri is a directory (relative paths resolve against the working directory, the dbt
  project directory under Meltano); default ../output/training_set. BigQuery: uri is a
  gs://bucket/prefix that EXPORT DATA writes to.
-#}
{% macro export_training_set(uri=none) %}
    {%- set uri = uri or env_var('BNPL_EXPORT_URI', '../output/training_set') -%}
    {%- set training_set = ref('mart_bnpl_ml_training_set') -%}
    {%- set splits = ['train', 'validation', 'test'] -%}
    {%- do adapter.dispatch('export_training_set_parquet', 'bnpl')(training_set, uri, splits) -%}
    {%- set counts = run_query(
        'select dataset_split, count(*) as row_count from ' ~ training_set
        ~ " where dataset_split in ('" ~ splits | join("', '") ~ "')"
        ~ ' group by dataset_split order by dataset_split'
    ) -%}
    {%- for row in counts.rows -%}
        {{ log('exported ' ~ row[1] ~ ' ' ~ row[0] ~ ' rows to ' ~ uri ~ '/dataset_split=' ~ row[0], info=true) }}
    {%- endfor -%}
{% endmacro %}

{% macro default__export_training_set_parquet(training_set, uri, splits) %}
    {%- call statement('export_training_set', fetch_result=false) -%}
        copy (
            select {{ bnpl_star_except('training_rows', ['source_updated_at', 'dbt_invocation_id', 'dbt_updated_at']) }}
            from {{ training_set }} as training_rows
            where dataset_split in ('{{ splits | join("', '") }}')
            order by transaction_date, transaction_key
        ) to '{{ uri }}' (
            format parquet, partition_by (dataset_split), overwrite true,
            filename_pattern 'part_{i}'
        )
    {%- endcall -%}
{% endmacro %}

{% macro bigquery__export_training_set_parquet(training_set, uri, splits) %}
    {%- for split in splits -%}
        {%- call statement('export_training_set_' ~ split, fetch_result=false) -%}
            export data options (
                uri = '{{ uri }}/dataset_split={{ split }}/part_*.parquet',
                format = 'PARQUET',
                overwrite = true
            ) as
            select * except (dataset_split, source_updated_at, dbt_invocation_id, dbt_updated_at)
            from {{ training_set }}
            where dataset_split = '{{ split }}'
            order by transaction_date, transaction_key
        {%- endcall -%}
    {%- endfor -%}
{% endmacro %}
