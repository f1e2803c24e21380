-- Daily statistics per market and UTC day: the day's OHLCV and VWAP (from agg_candles_1d) and
-- the quoted spread and depth (from tickers): average and median of yes_ask - yes_bid over
-- updates with both sides quoted (yes_bid > 0 and yes_ask < 1), average YES bid and ask sizes.
-- Ticker statistics weigh each update equally (not by time). A day has a row when the market
-- traded or was quoted. Incremental (changed_buckets): days with a trade or ticker merged since
-- the last build are recomputed whole. full_refresh is off: production keeps tickers
-- 30 days, so a rebuild would lose the spreads of older days.

{{ config(
    unique_key=['market_ticker', 'day_start'],
    full_refresh=false,
    indexes=[
        {'columns': ['market_ticker', 'day_start'], 'unique': True},
        {'columns': ['last_merged_at']},
        {'columns': ['xact_id']},
    ],
) }}

with

candles_1d as (
    select * from {{ ref('agg_candles_1d') }}
),

tickers as (
    select * from {{ ref('stg_tickers') }}
),

market_context as (
    select * from {{ ref('int_market_context') }}
),

{{ changed_buckets('market_ticker', 'day', [
    ('candles_1d', 'candle_start', 'last_merged_at'),
    ('tickers', 'quoted_at', 'merged_at'),
]) }}

day_candles as (
    {{ bucket_rows('candles_1d', 'market_ticker', 'candle_start', 'day') }}
),

day_tickers as (
    {{ bucket_rows('tickers', 'market_ticker', 'quoted_at', 'day') }}
),

quotes as (
    select
        market_ticker,
        bucket_start as day_start,
        yes_bid_size,
        yes_ask_size,
        merged_at,
        case
            when yes_bid > 0 and yes_ask < 1 then yes_ask - yes_bid
        end as spread
    from day_tickers
),

quote_stats as (
    select
        market_ticker,
        day_start,
        count(*) as ticker_updates,
        avg(spread) as avg_spread,
        percentile_disc(0.5) within group (order by spread) as median_spread,
        avg(yes_bid_size) as avg_yes_bid_size,
        avg(yes_ask_size) as avg_yes_ask_size,
        max(merged_at) as last_merged_at
    from quotes
    group by market_ticker, day_start
),

joined as (
    select
        coalesce(day_candles.market_ticker, quote_stats.market_ticker) as market_ticker,
        coalesce(day_candles.bucket_start, quote_stats.day_start) as day_start,
        day_candles.open,
        day_candles.high,
        day_candles.low,
        day_candles.close,
        day_candles.volume,
        day_candles.notional,
        day_candles.vwap,
        day_candles.trade_count,
        quote_stats.ticker_updates,
        quote_stats.avg_spread,
        quote_stats.median_spread,
        quote_stats.avg_yes_bid_size,
        quote_stats.avg_yes_ask_size,
        greatest(day_candles.last_merged_at, quote_stats.last_merged_at) as last_merged_at
    from day_candles
    full outer join quote_stats
        on
            day_candles.market_ticker = quote_stats.market_ticker
            and day_candles.bucket_start = quote_stats.day_start
),

typed as (
    select
        joined.market_ticker,
        joined.day_start,
        market_context.event_ticker,
        market_context.series_ticker,
        joined.open,
        joined.high,
        joined.low,
        joined.close,
        coalesce(joined.volume, 0)::numeric(18, 2) as volume,
        coalesce(joined.notional, 0)::numeric(28, 8) as notional,
        joined.vwap,
        coalesce(joined.trade_count, 0)::bigint as trade_count,
        coalesce(joined.ticker_updates, 0)::bigint as ticker_updates,
        round(joined.avg_spread, 6)::numeric(10, 6) as avg_spread,
        joined.median_spread::numeric(10, 6) as median_spread,
        round(joined.avg_yes_bid_size, 2)::numeric(18, 2) as avg_yes_bid_size,
        round(joined.avg_yes_ask_size, 2)::numeric(18, 2) as avg_yes_ask_size,
        joined.last_merged_at,
        pg_current_xact_id() as xact_id
    from joined
    left join market_context on joined.market_ticker = market_context.market_ticker
)

select * from typed
