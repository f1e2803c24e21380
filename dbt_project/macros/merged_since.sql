{#- The lower bound of an incremental build: the newest merged_at already built into this
    model (its `column`), less the lookback (var merged_lookback, see dbt_project.yml), so rows
    whose merge committed late are still picked up. -infinity when the model is empty. -#}
{% macro merged_since(column) -%}
    (
        select coalesce(max({{ column }}), '-infinity'::timestamptz)
        from {{ this }}
    ) - interval '{{ var("merged_lookback") }}'
{%- endmacro %}
