{#-
  The split of a mart_bnpl_ml_training_set row, as SQL over the row's columns (aliased
  `relation_alias`) and the one-row `split_cuts` (validation_start, test_start and the gap
  starts before each). The model uses them both to build rows and to find stored rows whose
  split moved, so both places judge a row alike.
-#}

{#- simtom's only payment_frequency (the seed's one value) is bi_weekly. -#}
{% macro bnpl_payment_interval_days() -%}
    {{ return(14) }}
{%- endmacro %}

{#- When the row's last installment is due: its outcome is known by then, default or not. -#}
{% macro bnpl_last_installment_due_at(relation_alias) -%}
    cast({{ dbt.dateadd(
        'day',
        '(' ~ relation_alias ~ '.installment_count - 1) * ' ~ bnpl_payment_interval_days(),
        relation_alias ~ '.transacted_at'
    ) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro bnpl_split_requires_mature_labels() -%}
    {{ return((var('bnpl_split_require_mature_labels', true) | string | lower) in ['true', '1', 'yes']) }}
{%- endmacro %}

{#- Why the row must not train, or null when it takes its day's split. -#}
{% macro bnpl_split_exclusion_reason(relation_alias) -%}
    case
        when {{ relation_alias }}.transaction_date >= split_cuts.test_start then null
        when {{ relation_alias }}.transaction_date >= split_cuts.test_gap_start then 'gap_before_test'
        when {{ relation_alias }}.transaction_date >= split_cuts.validation_start then null
        when {{ relation_alias }}.transaction_date >= split_cuts.validation_gap_start then 'gap_before_validation'
        {%- if bnpl_split_requires_mature_labels() %}
        when split_cuts.validation_start is not null
            and not coalesce(
                {{ bnpl_last_installment_due_at(relation_alias) }}
                    < cast(split_cuts.validation_start as {{ dbt.type_timestamp() }}),
                false
            )
            then 'label_not_mature'
        {%- endif %}
    end
{%- endmacro %}

{#- train | validation | test | excluded. -#}
{% macro bnpl_dataset_split(relation_alias) -%}
    case
        when ({{ bnpl_split_exclusion_reason(relation_alias) }}) is not null then 'excluded'
        when {{ relation_alias }}.transaction_date >= split_cuts.test_start then 'test'
        when {{ relation_alias }}.transaction_date >= split_cuts.validation_start then 'validation'
        else 'train'
    end
{%- endmacro %}
