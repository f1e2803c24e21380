-- Trading activity per series and UTC hour, from agg_candles_1h: markets traded, trades,
-- contracts, notional and VWAP across the series' markets. Trades of markets whose series is
-- not known yet are left out until their market arrives (within the lookback). Incremental:
-- every (series, hour) with an hourly candle changed since the last build is recomputed whole.

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

{% if is_incremental() %}

    changed_hours as (
        select distinct
            series_ticker,
            candle_start as hour_start
        from candles_1h
        where last_merged_at > {{ merged_since('last_merged_at') }}
    ),

    hour_candles as (
        select candles_1h.*
        from candles_1h
        inner join changed_hours
            on
                candles_1h.series_ticker = changed_hours.series_ticker
                and candles_1h.candle_start = changed_hours.hour_start
    ),

{% else %}

    hour_candles as (
        select * from candles_1h
    ),

{% endif %}

activity as (
    select
        series_ticker,
        candle_start as hour_start,
        count(*) as markets_traded,
        sum(trade_count) as trade_count,
        sum(volume) as volume,
        sum(notional) as notional,
        max(last_merged_at) as last_merged_at
    from hour_candles
    group by series_ticker, candle_start
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
