-- OHLCV candles per market and UTC minute, from processed trades: open/close are the first
-- and last yes_price by (traded_at, trade_id), volume the contracts, vwap = notional / volume.
-- Only minutes with trades have a candle. Incremental: every minute that received a trade
-- merged since the last build (less the lookback) is recomputed whole, so a late trade lands
-- in its minute. last_merged_at drives the candles built from these.

{{ config(
    unique_key=['market_ticker', 'candle_start'],
    indexes=[
        {'columns': ['market_ticker', 'candle_start'], 'unique': True},
        {'columns': ['last_merged_at']},
        {'columns': ['xact_id']},
    ],
) }}

with

trades as (
    select * from {{ ref('prc_trades') }}
),

{{ changed_buckets('market_ticker', 'minute', [('trades', 'traded_at', 'merged_at')]) }}

candle_trades as (
    {{ bucket_rows('trades', 'market_ticker', 'traded_at', 'minute') }}
),

candles as (
    select
        market_ticker,
        bucket_start,
        max(event_ticker) as event_ticker,
        max(series_ticker) as series_ticker,
        (array_agg(yes_price order by traded_at asc, trade_id asc))[1] as open,
        max(yes_price) as high,
        min(yes_price) as low,
        (array_agg(yes_price order by traded_at desc, trade_id desc))[1] as close,
        sum(contracts) as volume,
        sum(yes_price * contracts) as notional,
        count(*) as trade_count,
        max(merged_at) as last_merged_at
    from candle_trades
    group by market_ticker, bucket_start
),

typed as (
    {{ typed_candles('candles') }}
)

select * from typed
