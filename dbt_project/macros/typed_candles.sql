{#- The body of the last CTE of every candle model: the candles of `candles` (market_ticker,
    bucket_start, event and series, open/high/low/close, volume, notional, trade_count,
    last_merged_at) with the candle tables' types, candle_start, vwap = notional / volume and
    xact_id. One column list for agg_candles_1m, _1h and _1d. -#}
{% macro typed_candles(candles) -%}
    select
        market_ticker,
        bucket_start as candle_start,
        event_ticker,
        series_ticker,
        open::numeric(10, 6) as open,
        high::numeric(10, 6) as high,
        low::numeric(10, 6) as low,
        close::numeric(10, 6) as close,
        volume::numeric(18, 2) as volume,
        notional::numeric(28, 8) as notional,
        round(notional / volume, 6)::numeric(10, 6) as vwap,
        trade_count::bigint as trade_count,
        last_merged_at,
        pg_current_xact_id() as xact_id
    from {{ candles }}
{%- endmacro %}
