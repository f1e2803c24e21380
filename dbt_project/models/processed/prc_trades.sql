-- Trades, validated and enriched: one row per trade_id with its market, event and series
-- attributes (int_market_context) and data-quality flags (true = problem; null = could not be
-- checked). is_clean: every check ran and passed. Incremental by merged_at less the lookback
-- (merged_since), so a late commit is picked up; the trades of the window are recomputed, which
-- also fills in a market that reached production after its trades.

{{ config(
    unique_key='trade_id',
    indexes=[
        {'columns': ['trade_id'], 'unique': True},
        {'columns': ['market_ticker', 'traded_at']},
        {'columns': ['merged_at']},
        {'columns': ['xact_id']},
    ],
) }}

with

trades as (
    select * from {{ ref('stg_trades') }}
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

deduplicated as (
    -- one row per trade_id, should the exchange ever print an id twice at different times
    select distinct on (trade_id) *
    from trades
    order by trade_id asc, traded_at asc, merged_at asc
),

{{ off_tick_grid('deduplicated', 'yes_price') }}

enriched as (
    select
        deduplicated.trade_id,
        deduplicated.market_ticker,
        market_context.event_ticker,
        market_context.series_ticker,
        deduplicated.traded_at,
        deduplicated.yes_price,
        deduplicated.no_price,
        deduplicated.contracts,
        deduplicated.taker_outcome_side,
        deduplicated.taker_book_side,
        deduplicated.is_block_trade,
        market_context.market_title,
        market_context.event_title,
        market_context.series_title,
        market_context.series_category,
        market_context.price_level_structure,
        market_context.is_fractional_trading_enabled,
        deduplicated.sent_at,
        deduplicated.received_at,
        deduplicated.merged_at,
        deduplicated.gatherer_id,
        market_context.market_ticker is null as is_unknown_market,
        tick_checks.is_off_tick_grid
    from deduplicated
    left join market_context on deduplicated.market_ticker = market_context.market_ticker
    left join tick_checks
        on
            deduplicated.market_ticker = tick_checks.market_ticker
            and deduplicated.yes_price = tick_checks.price
),

flagged as (
    select
        *,
        yes_price + no_price <> 1 as is_price_sum_off,
        contracts <> trunc(contracts)
        and not is_fractional_trading_enabled as is_fractional_unexpected,
        (
            not is_unknown_market
            and is_off_tick_grid is false
            and yes_price + no_price = 1
            and (contracts = trunc(contracts) or is_fractional_trading_enabled)
        ) as is_clean,
        pg_current_xact_id() as xact_id
    from enriched
)

select * from flagged
