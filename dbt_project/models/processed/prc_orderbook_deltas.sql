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

market_context as (
    select * from {{ ref('int_market_context') }}
),

price_ranges as (
    select * from {{ ref('stg_market_price_ranges') }}
),

priced as (
    select
        *,
        {{ price_on_scale('price', 'side', 'use_yes_price', 'leg') }} as leg_price,
        {{ price_on_scale('price', 'side', 'use_yes_price', 'yes') }} as yes_price
    from deltas
),

{{ off_tick_grid('priced', 'leg_price') }}

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
        market_context.event_ticker,
        market_context.series_ticker,
        priced.sid,
        priced.seq,
        priced.connection_id,
        priced.sent_at,
        priced.received_at,
        priced.merged_at,
        priced.gatherer_id,
        market_context.market_ticker is null as is_unknown_market,
        priced.key_scope <> '' as is_missing_exchange_time,
        tick_checks.is_off_tick_grid
    from priced
    left join market_context on priced.market_ticker = market_context.market_ticker
    left join tick_checks
        on
            priced.market_ticker = tick_checks.market_ticker
            and priced.leg_price = tick_checks.price
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
