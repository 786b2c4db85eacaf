{#-
  Fails with one row per value of the column that the seed simtom_allowed_values does not
  list for `field` (the simtom field name; default: the column's name). The seed is the one
  home of simtom's value sets: the gate and the local server read it too. Values are compared
  as text, so integer fields (installment_count) use the same seed.
-#}
{% test accepted_values_from_seed(model, column_name, field=none) %}
    select {{ column_name }} as value_not_allowed, count(*) as rows_with_value
    from {{ model }}
    where {{ column_name }} is not null
        and cast({{ column_name }} as {{ dbt.type_string() }}) not in (
            select value from {{ ref('simtom_allowed_values') }}
            where field = '{{ field or column_name }}'
        )
    group by {{ column_name }}
{% endtest %}
