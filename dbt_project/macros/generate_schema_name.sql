{#- Schemas are the layers' own names (staging, processed, aggregates), not dbt's default
    <target schema>_<custom schema>: the exporter and the analysts address them by name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
