-- Each market with its event and series: the context the processed and aggregate layers attach
-- to a market's rows, joined here once. series_ticker is the market's own, else its event's.
-- A view: it follows the current versions of markets, events and series.

with

markets as (
    select * from {{ ref('stg_markets') }}
),

events as (
    select * from {{ ref('stg_events') }}
),

series as (
    select * from {{ ref('stg_series') }}
),

market_events as (
    select
        markets.market_ticker,
        markets.event_ticker,
        coalesce(markets.series_ticker, events.series_ticker) as series_ticker,
        markets.market_title,
        events.event_title,
        markets.price_level_structure,
        markets.is_fractional_trading_enabled
    from markets
    left join events on markets.event_ticker = events.event_ticker
),

context as (
    select
        market_events.market_ticker,
        market_events.event_ticker,
        market_events.series_ticker,
        market_events.market_title,
        market_events.event_title,
        series.series_title,
        series.series_category,
        market_events.price_level_structure,
        market_events.is_fractional_trading_enabled
    from market_events
    left join series on market_events.series_ticker = series.series_ticker
)

select * from context
