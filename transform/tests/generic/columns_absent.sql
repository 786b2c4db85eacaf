{#-
  Fails with one row per column of the model whose name is listed, or contains one of the
  listed substrings. Reads the built relation's columns, so it sees what really landed.
-#}
{% test columns_absent(model, column_names=[], name_substrings=[]) %}
    {%- set forbidden = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(model) -%}
            {%- set name = column.name | lower -%}
            {%- if name in (column_names | map('lower') | list) -%}
                {%- do forbidden.append(name) -%}
            {%- else -%}
                {%- for fragment in name_substrings -%}
                    {%- if fragment | lower in name and name not in forbidden -%}
                        {%- do forbidden.append(name) -%}
                    {%- endif -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if forbidden -%}
        {%- for name in forbidden %}
    select cast('{{ name }}' as {{ dbt.type_string() }}) as forbidden_column
    {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    {%- else %}
    select cast(null as {{ dbt.type_string() }}) as forbidden_column
    from (select 1 as no_row) as nothing
    where 1 = 0
    {%- endif %}
{% endtest %}
