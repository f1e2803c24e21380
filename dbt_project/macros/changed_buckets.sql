{#- The incremental rule of the aggregates: a bucket (a `key` value and a UTC `grain`: minute,
    hour, day) that received a row merged since the last build (merged_since: the newest
    last_merged_at built, less the lookback) is recomputed whole; other buckets are left alone.
    One definition for the candles and the daily and series statistics.

    changed_buckets(key, grain, changes): the CTE `changed_buckets` (key, bucket_start), followed
    by a comma, in an incremental build; nothing in a full build. `changes` lists the inputs
    that can change a bucket, as (CTE, time column, merged column) triples.

    bucket_rows(rows, key, time_column, grain): the body of a CTE with the rows of `rows` that
    fall in a changed bucket (every row in a full build), each with its bucket_start. -#}
{% macro changed_buckets(key, grain, changes) -%}
{%- if is_incremental() %}
changed_buckets as (
    {%- for rows, time_column, merged_column in changes %}
        select distinct
            {{ key }},
            date_trunc('{{ grain }}', {{ time_column }}, 'UTC') as bucket_start
        from {{ rows }}
        where {{ merged_column }} > {{ merged_since('last_merged_at') }}
        {%- if not loop.last %}
            union
        {%- endif %}
    {%- endfor %}
),
{%- endif %}
{%- endmacro %}

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
            and {{ rows }}.{{ time_column }} < changed_buckets.bucket_start + interval '1 {{ grain }}'
{%- else -%}
    select
        *,
        date_trunc('{{ grain }}', {{ time_column }}, 'UTC') as bucket_start
    from {{ rows }}
{%- endif -%}
{%- endmacro %}
