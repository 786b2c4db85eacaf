-- A customer key hashes one request body, so all of a customer's transactions lie in that
-- request's window; mart_bnpl_risk_features adds distinct customers across windows on it.
select customer_key, count(distinct {{ dbt.concat(['cast(window_start as ' ~ dbt.type_string() ~ ')', "'/'", 'cast(window_end as ' ~ dbt.type_string() ~ ')']) }}) as request_windows
from {{ ref('mart_bnpl_transactions') }}
where {{ bnpl_written_scope(ref('mart_bnpl_transactions'), 'customer_key') }}
group by customer_key
having count(distinct {{ dbt.concat(['cast(window_start as ' ~ dbt.type_string() ~ ')', "'/'", 'cast(window_end as ' ~ dbt.type_string() ~ ')']) }}) > 1
