-- Every day the tap extracted reaches raw, staging and the transactions mart whole.
select *
from {{ ref('mart_bnpl_reconciliation') }}
where not is_balanced
