{#- The body of a CTE with the rows of `rows` that fall in a bucket of changed_buckets (every
    row in a full build), each with its bucket_start: the `grain` (minute, hour, day) holding its
    `time_column`, per `key`. A time range per bucket, so an index on (key, time) serves it. -#}
{% macro bucket_rows(rows, key, time_column, grain) -%}
{%- if is_incremental() -%}
    select
        {{ rows }}.*,
        changed_buckets.bucket_start
    from {{ rows }}
    inner join changed_buckets
        on
            {{ rows }}.{{ key }} = changed_buckets.{{ key }}
            and {{ rows }}.{{ time_column }} >= changed_buckets.bucket_start
            and {{ rows }}.{{ time_column }}
            < changed_buckets.bucket_start + interval '1 {{ grain }}'
{%- else -%}
    select
        *,
        date_trunc('{{ grain }}', {{ time_column }}, 'UTC') as bucket_start
    from {{ rows }}
{%- endif -%}
{%- endmacro %}
