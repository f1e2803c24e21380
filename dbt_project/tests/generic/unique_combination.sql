{#- Fails with every combination of `columns` that occurs more than once in the model: the
    declared key of a model whose key spans several columns (dbt's `unique` takes one). -#}
{% test unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
