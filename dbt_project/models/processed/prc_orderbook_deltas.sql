-- Order-book deltas, validated and enriched: both price scales (leg_price on the side's own
-- leg, yes_price on the YES scale: a NO bid at q is a YES ask at 1 - q), the market's event and
-- series, and data-quality flags (true = problem; null = could not be checked). Incremental by
-- merged_at with the lookback. full_refresh is off: production keeps deltas 90 days, so a
-- rebuild would lose what is older (the lake keeps raw/ forever).

{{ config(
    unique_key=['market_ticker', 'delta_at', 'side', 'price', 'delta', 'dup_ordinal', 'key_scope'],
    full_refresh=false,
    indexes=[
        {
            'columns': [
                'market_ticker', 'delta_at', 'side', 'price', 'delta', 'dup_ordinal', 'key_scope'
            ],
            'unique': True,
        },
        {'columns': ['merged_at']},
        {'columns': ['xact_id']},
    ],
) }}

with

deltas as (
    select * from {{ ref('stg_orderbook_deltas') }}
    {% if is_incremental() %}
        where merged_at > {{ merged_since('merged_at') }}
    {% endif %}
),

markets as (
    select * from {{ ref('stg_markets') }}
),

events as (
    select * from {{ ref('stg_events') }}
),

price_ranges as (
    select * from {{ ref('stg_market_price_ranges') }}
),

priced as (
    select
        *,
        (
            case when side = 'no' and use_yes_price then 1 - price else price end
        )::numeric(10, 6) as leg_price,
        (
            case when side = 'no' and not use_yes_price then 1 - price else price end
        )::numeric(10, 6) as yes_price
    from deltas
),

level_prices as (
    select distinct
        market_ticker,
        leg_price
    from priced
),

tick_checks as (
    select
        level_prices.market_ticker,
        level_prices.leg_price,
        not bool_or(
            level_prices.leg_price between price_ranges.range_start and price_ranges.range_end
            and mod(level_prices.leg_price - price_ranges.range_start, price_ranges.tick_size) = 0
        ) as is_off_tick_grid
    from level_prices
    inner join price_ranges on level_prices.market_ticker = price_ranges.market_ticker
    group by level_prices.market_ticker, level_prices.leg_price
),

enriched as (
    select
        priced.market_ticker,
        priced.delta_at,
        priced.side,
        priced.price,
        priced.delta,
        priced.dup_ordinal,
        priced.key_scope,
        priced.leg_price,
        priced.yes_price,
        priced.use_yes_price,
        markets.event_ticker,
        coalesce(markets.series_ticker, events.series_ticker) as series_ticker,
        priced.sid,
        priced.seq,
        priced.connection_id,
        priced.sent_at,
        priced.received_at,
        priced.merged_at,
        priced.gatherer_id,
        markets.market_ticker is null as is_unknown_market,
        priced.key_scope <> '' as is_missing_exchange_time,
        tick_checks.is_off_tick_grid
    from priced
    left join markets on priced.market_ticker = markets.market_ticker
    left join events on markets.event_ticker = events.event_ticker
    left join tick_checks
        on
            priced.market_ticker = tick_checks.market_ticker
            and priced.leg_price = tick_checks.leg_price
),

flagged as (
    select
        *,
        (
            not is_unknown_market
            and not is_missing_exchange_time
            and is_off_tick_grid is false
        ) as is_clean,
        pg_current_xact_id() as xact_id
    from enriched
)

select * from flagged
