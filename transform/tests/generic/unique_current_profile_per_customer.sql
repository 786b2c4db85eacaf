{#- Fails for every customer with no current profile or more than one. On a daily build it
    reads the customers whose profiles the build wrote (every profile of each), like the
    column tests of a model scoped by customer_key (macros/test_scope.sql). -#}
{% test unique_current_profile_per_customer(model) %}
    select customer_key, sum(case when is_current then 1 else 0 end) as current_profiles
    from {{ model }}
    where {{ bnpl_written_scope(model, 'customer_key') }}
    group by customer_key
    having sum(case when is_current then 1 else 0 end) != 1
{% endtest %}
