{#- Fails for every customer with no current profile or more than one. -#}
{% test unique_current_profile_per_customer(model) %}
    select customer_key, sum(case when is_current then 1 else 0 end) as current_profiles
    from {{ model }}
    group by customer_key
    having sum(case when is_current then 1 else 0 end) != 1
{% endtest %}
