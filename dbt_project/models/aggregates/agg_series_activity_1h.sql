-- Trading activity per series and UTC hour, from agg_candles_1h: markets traded, trades,
-- contracts, notional and VWAP across the series' markets. Trades of markets whose series is
-- not known yet are left out until their market arrives (within the lookback). Incremental
-- (changed_buckets): every (series, hour) with an hourly candle merged since the last build is
-- recomputed whole.

{{ config(
    unique_key=['series_ticker', 'hour_start'],
    indexes=[
        {'columns': ['series_ticker', 'hour_start'], 'unique': True},
        {'columns': ['last_merged_at']},
        {'columns': ['xact_id']},
    ],
) }}

with

candles_1h as (
    select * from {{ ref('agg_candles_1h') }}
    where series_ticker is not null
),

{{ changed_buckets('series_ticker', 'hour', [('candles_1h', 'candle_start', 'last_merged_at')]) }}

hour_candles as (
    {{ bucket_rows('candles_1h', 'series_ticker', 'candle_start', 'hour') }}
),

activity as (
    select
        series_ticker,
        bucket_start as hour_start,
        count(*) as markets_traded,
        sum(trade_count) as trade_count,
        sum(volume) as volume,
        sum(notional) as notional,
        max(last_merged_at) as last_merged_at
    from hour_candles
    group by series_ticker, bucket_start
),

typed as (
    select
        series_ticker,
        hour_start,
        markets_traded::bigint as markets_traded,
        trade_count::bigint as trade_count,
        volume::numeric(18, 2) as volume,
        notional::numeric(28, 8) as notional,
        round(notional / volume, 6)::numeric(10, 6) as vwap,
        last_merged_at,
        pg_current_xact_id() as xact_id
    from activity
)

select * from typed
