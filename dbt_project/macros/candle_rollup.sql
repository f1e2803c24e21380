{#- Candles of a coarser UTC `grain` ('hour', 'day') rolled up from the candles of
    `finer_model`: open is the first finer candle's open, close the last one's close, volume,
    notional and trade_count add up, vwap = notional / volume. Incremental (changed_buckets):
    every bucket holding a finer candle merged since the last build is recomputed whole. The
    whole model, its key and indexes included: one definition for agg_candles_1h and _1d. -#}
{% macro candle_rollup(finer_model, grain) -%}
{{ config(
    unique_key=['market_ticker', 'candle_start'],
    indexes=[
        {'columns': ['market_ticker', 'candle_start'], 'unique': True},
        {'columns': ['series_ticker', 'candle_start']},
        {'columns': ['last_merged_at']},
        {'columns': ['xact_id']},
    ],
) }}

with

finer_candles as (
    select * from {{ ref(finer_model) }}
),

{{ changed_buckets('market_ticker', grain, [('finer_candles', 'candle_start', 'last_merged_at')]) }}

bucket_candles as (
    {{ bucket_rows('finer_candles', 'market_ticker', 'candle_start', grain) }}
),

candles as (
    select
        market_ticker,
        bucket_start,
        max(event_ticker) as event_ticker,
        max(series_ticker) as series_ticker,
        (array_agg(open order by candle_start asc))[1] as open,
        max(high) as high,
        min(low) as low,
        (array_agg(close order by candle_start desc))[1] as close,
        sum(volume) as volume,
        sum(notional) as notional,
        sum(trade_count) as trade_count,
        max(last_merged_at) as last_merged_at
    from bucket_candles
    group by market_ticker, bucket_start
),

typed as (
    {{ typed_candles('candles') }}
)

select * from typed
{%- endmacro %}
