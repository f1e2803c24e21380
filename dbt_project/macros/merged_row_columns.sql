{#- The bookkeeping columns every merged time-series row carries, renamed and typed once for
    the stg_ models of trades, deltas and tickers: when the exchange sent it (sent_at), when a
    gatherer received it, when it reached production (merged_at, which the incremental builds
    follow) and the gatherer whose copy was kept. Closes a `renamed` column list. -#}
{% macro merged_row_columns() -%}
        -- times
        sending_ts::timestamptz as sent_at,
        received_at::timestamptz as received_at,
        merged_at::timestamptz as merged_at,

        -- lineage
        gatherer_id::text as gatherer_id
{%- endmacro %}
