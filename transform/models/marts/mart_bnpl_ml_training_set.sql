{{
    config(
        materialized='incremental',
        unique_key='transaction_key',
        incremental_strategy=bnpl_incremental_strategy(),
        on_schema_change='append_new_columns',
        partition_by=bnpl_day_partition('transaction_date'),
        cluster_by=['customer_key'],
    )
}}
{#-
  The features mart plus the two labels, with a deterministic time-based split: whole days go
  to train, then validation, then test, oldest first, so no model is validated on days older
  than some of its training days. Cut dates can be pinned with vars; otherwise they follow
  from integer percentages of the distinct transaction dates present (no float rounding, so
  DuckDB and BigQuery cut at the same day).

  Rows that must not train are `excluded` (split_exclusion_reason says why):
  - the `bnpl_split_gap_days` days before the validation start and before the test start, so
    neighbouring splits do not share the days around their cut;
  - train-period rows whose outcome is not settled before the validation start: a model fitted
    then could not have seen it. A row is settled when its last installment is due, whatever
    the outcome: judging by label_available_at instead (a default settles at its first missed
    payment) would keep early defaults and drop their non-defaulting neighbours, a train set
    selected on its label. Off with var `bnpl_split_require_mature_labels: false`.

  Incremental: a run merges the feature rows rewritten since the last run (a label changes only
  with its transaction, which rewrites its feature row) and every row of a day where any row's
  split moved (each new day shifts the percentage cuts, and with them the maturity cut).
-#}
{%- set gap_days_var = var('bnpl_split_gap_days', 1) | string -%}
{%- if not gap_days_var.isdigit() -%}
    {{ exceptions.raise_compiler_error('bnpl_split_gap_days: expected a whole number of days >= 0, got ' ~ gap_days_var) }}
{%- endif -%}
{%- set gap_days = gap_days_var | int -%}

{#- The features mart is read where it is used, not through a shared CTE: DuckDB
    materializes a CTE read twice, which here would copy the whole mart on every run. -#}
with labels as (

    select transaction_key, will_default, days_to_first_missed_payment
    from {{ ref('mart_bnpl_transactions') }}

),

transaction_days_in_order as (

    select
        transaction_date,
        row_number() over (order by transaction_date) as day_number,
        count(*) over () as day_count
    from (select distinct transaction_date from {{ ref('mart_bnpl_ml_features') }}) as distinct_days

),

{#- A pinned cut is aggregated too, so the CTE is one row either way. #}
split_starts as (

    select
        {% if var('bnpl_split_validation_start') -%}
        min(cast('{{ var("bnpl_split_validation_start") }}' as date))
        {%- else -%}
        min(case when day_number * 100 > day_count * {{ var('bnpl_split_train_percent') | int }} then transaction_date end)
        {%- endif %} as validation_start,
        {% if var('bnpl_split_test_start') -%}
        min(cast('{{ var("bnpl_split_test_start") }}' as date))
        {%- else -%}
        min(case when day_number * 100 > day_count * {{ var('bnpl_split_train_percent') | int + var('bnpl_split_validation_percent') | int }} then transaction_date end)
        {%- endif %} as test_start
    from transaction_days_in_order

),

split_cuts as (

    select
        validation_start,
        test_start,
        cast({{ dbt.dateadd('day', -gap_days, 'validation_start') }} as date) as validation_gap_start,
        cast({{ dbt.dateadd('day', -gap_days, 'test_start') }} as date) as test_gap_start
    from split_starts

),

{% if is_incremental() -%}
{#- A table built before the split had label_available_at gets every row merged once. -#}
{%- set previous_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list
    if execute and this is not string else ['label_available_at'] -%}
days_with_moved_split as (

    {% if 'label_available_at' in previous_columns -%}
    select distinct previous_rows.transaction_date
    from {{ this }} as previous_rows
    cross join split_cuts
    where previous_rows.dataset_split != {{ bnpl_dataset_split('previous_rows') }}
        or coalesce(previous_rows.split_exclusion_reason, '') != coalesce({{ bnpl_split_exclusion_reason('previous_rows') }}, '')
    {%- else -%}
    select transaction_date from transaction_days_in_order
    {%- endif %}

),

{% endif -%}
features_to_merge as (

    select * from {{ ref('mart_bnpl_ml_features') }}
    {% if is_incremental() -%}
    {#- Two scans, each with a filter the scan itself can apply (an OR across two columns
        would read every row of the features mart). -#}
    where dbt_updated_at > {{ bnpl_high_water_mark('source_updated_at') }}
    union all
    select * from {{ ref('mart_bnpl_ml_features') }}
    where transaction_date in (select transaction_date from days_with_moved_split)
        and dbt_updated_at <= {{ bnpl_high_water_mark('source_updated_at') }}
    {%- endif %}

)

select
    {{ bnpl_star_except('features_to_merge', ['source_updated_at', 'dbt_invocation_id', 'dbt_updated_at']) }},
    labels.will_default,
    labels.days_to_first_missed_payment,
    case
        when labels.will_default then cast({{ dbt.dateadd('day', 'labels.days_to_first_missed_payment', 'features_to_merge.transacted_at') }} as {{ dbt.type_timestamp() }})
        else {{ bnpl_last_installment_due_at('features_to_merge') }}
    end as label_available_at,
    {{ bnpl_dataset_split('features_to_merge') }} as dataset_split,
    {{ bnpl_split_exclusion_reason('features_to_merge') }} as split_exclusion_reason,
    features_to_merge.dbt_updated_at as source_updated_at,
    {{ bnpl_audit_columns() }}
from features_to_merge
inner join labels
    on features_to_merge.transaction_key = labels.transaction_key
cross join split_cuts
