{#-
  One row per key of `relation` (a relation or a CTE name): the first in `newest_first`, an
  ORDER BY list that puts the row that wins first. Renders a whole select, so a model writes
  it as the body of the CTE named for what it keeps, e.g.

      latest_extractions as (
          {{ bnpl_latest_row_per_key('typed_transactions', 'transaction_key', bnpl_extraction_recency_order()) }}
      )

  The rank it filters on is left out of the columns.
-#}
{% macro bnpl_latest_row_per_key(relation, key_column, newest_first) -%}
    select {{ bnpl_star_except('rows_ranked_by_recency', ['recency_rank']) }}
    from (
        select
            {{ relation }}.*,
            row_number() over (partition by {{ key_column }} order by {{ newest_first }}) as recency_rank
        from {{ relation }}
    ) as rows_ranked_by_recency
    where recency_rank = 1
{%- endmacro %}
