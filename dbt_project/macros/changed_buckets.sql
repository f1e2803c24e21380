{#- The incremental rule of the aggregates: a bucket (a `key` value and a UTC `grain`: minute,
    hour, day) that received a row merged since the last build (merged_since: the newest
    last_merged_at built, less the lookback) is recomputed whole; other buckets are left alone.
    One definition for the candles and the daily and series statistics.

    Emits the CTE `changed_buckets` (key, bucket_start), followed by a comma, in an incremental
    build; nothing in a full build. `changes` lists the inputs that can change a bucket, as
    (CTE, time column, merged column) triples; bucket_rows then takes each input's rows of
    those buckets. -#}
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
