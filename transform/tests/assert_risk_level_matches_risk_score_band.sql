-- risk_level is the band of risk_score: <0.3 low, <0.6 medium, <0.8 high, else very_high.
with expected_levels as (

    select
        transaction_key,
        risk_score,
        risk_level,
        case
            when risk_score < 0.3 then 'low'
            when risk_score < 0.6 then 'medium'
            when risk_score < 0.8 then 'high'
            else 'very_high'
        end as expected_risk_level
    from {{ ref('stg_simtom__transactions') }}
    where {{ bnpl_written_scope(ref('stg_simtom__transactions'), 'transaction_date') }}

)

select *
from expected_levels
where risk_level is null
    or risk_level != expected_risk_level
