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

{% if is_incremental() %}

    changed_candles as (
        select distinct
            market_ticker,
            date_trunc('minute', traded_at, 'UTC') as candle_start
        from trades
        where merged_at > {{ merged_since('last_merged_at') }}
    ),

    candle_trades as (
        select
            trades.*,
            changed_candles.candle_start
        from trades
        inner join changed_candles
            on
                trades.market_ticker = changed_candles.market_ticker
                and trades.traded_at >= changed_candles.candle_start
                and trades.traded_at < changed_candles.candle_start + interval '1 minute'
    ),

{% else %}

    candle_trades as (
        select
            *,
            date_trunc('minute', traded_at, 'UTC') as candle_start
        from trades
    ),

{% endif %}

candles as (
    select
        market_ticker,
        candle_start,
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
    group by market_ticker, candle_start
),

typed as (
    select
        market_ticker,
        candle_start,
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
    from candles
)

select * from typed
