-- Order-book snapshots, validated and enriched: level counts, best bids on each leg's scale,
-- the YES ask (1 - best NO bid), spread and depth per side, the market's event and series, and
-- data-quality flags (true = problem; null = could not be checked). Incremental by merged_at
-- with the lookback.

{{ config(
    unique_key=['market_ticker', 'captured_at', 'gatherer_id', 'source'],
    indexes=[
        {'columns': ['market_ticker', 'captured_at', 'gatherer_id', 'source'], 'unique': True},
        {'columns': ['merged_at']},
        {'columns': ['xact_id']},
    ],
) }}

with

snapshots as (
    select * from {{ ref('stg_orderbook_snapshots') }}
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

levels as (
    select
        snapshots.market_ticker,
        snapshots.captured_at,
        snapshots.gatherer_id,
        snapshots.source,
        'yes' as side,
        yes_level.level,
        yes_level.price,
        yes_level.price as leg_price,
        yes_level.size
    from snapshots
    cross join
        lateral unnest(snapshots.yes_prices, snapshots.yes_sizes)
        with ordinality as yes_level (price, size, level)
    union all
    select
        snapshots.market_ticker,
        snapshots.captured_at,
        snapshots.gatherer_id,
        snapshots.source,
        'no' as side,
        no_level.level,
        no_level.price,
        {{
            price_on_scale('no_level.price', "'no'", 'snapshots.use_yes_price', 'leg')
        }} as leg_price,
        no_level.size
    from snapshots
    cross join
        lateral unnest(snapshots.no_prices, snapshots.no_sizes)
        with ordinality as no_level (price, size, level)
),

{{ off_tick_grid('levels', 'leg_price') }}

checked_levels as (
    select
        levels.*,
        tick_checks.is_off_tick_grid,
        levels.price <= lag(levels.price) over (
            partition by
                levels.market_ticker, levels.captured_at, levels.gatherer_id, levels.source,
                levels.side
            order by levels.level
        ) as is_out_of_order
    from levels
    left join tick_checks
        on
            levels.market_ticker = tick_checks.market_ticker
            and levels.leg_price = tick_checks.price
),

level_stats as (
    select
        market_ticker,
        captured_at,
        gatherer_id,
        source,
        max(leg_price) filter (where side = 'yes') as best_yes_bid,
        max(leg_price) filter (where side = 'no') as best_no_bid,
        sum(size) filter (where side = 'yes') as yes_depth,
        sum(size) filter (where side = 'no') as no_depth,
        count(*) filter (where is_off_tick_grid) as off_grid_levels,
        bool_or(is_off_tick_grid) as is_off_tick_grid,
        coalesce(bool_or(is_out_of_order), false) as is_out_of_order,
        bool_or(size <= 0) as is_nonpositive_size
    from checked_levels
    group by market_ticker, captured_at, gatherer_id, source
),

enriched as (
    select
        snapshots.market_ticker,
        snapshots.captured_at,
        snapshots.gatherer_id,
        snapshots.source,
        market_context.event_ticker,
        market_context.series_ticker,
        snapshots.yes_prices,
        snapshots.yes_sizes,
        snapshots.no_prices,
        snapshots.no_sizes,
        snapshots.use_yes_price,
        cardinality(snapshots.yes_prices) as yes_levels,
        cardinality(snapshots.no_prices) as no_levels,
        level_stats.best_yes_bid::numeric(10, 6) as best_yes_bid,
        level_stats.best_no_bid::numeric(10, 6) as best_no_bid,
        (1 - level_stats.best_no_bid)::numeric(10, 6) as best_yes_ask,
        (1 - level_stats.best_no_bid - level_stats.best_yes_bid)::numeric(10, 6) as spread,
        coalesce(level_stats.yes_depth, 0)::numeric(18, 2) as yes_depth,
        coalesce(level_stats.no_depth, 0)::numeric(18, 2) as no_depth,
        coalesce(level_stats.off_grid_levels, 0) as off_grid_levels,
        snapshots.sid,
        snapshots.seq,
        snapshots.connection_id,
        snapshots.received_at,
        snapshots.merged_at,
        market_context.market_ticker is null as is_unknown_market,
        case
            when level_stats.market_ticker is null then false
            else level_stats.is_off_tick_grid
        end as is_off_tick_grid,
        coalesce(level_stats.best_yes_bid + level_stats.best_no_bid >= 1, false) as is_crossed,
        coalesce(level_stats.is_out_of_order, false) as is_out_of_order,
        coalesce(level_stats.is_nonpositive_size, false) as is_nonpositive_size
    from snapshots
    left join market_context on snapshots.market_ticker = market_context.market_ticker
    left join level_stats
        on
            snapshots.market_ticker = level_stats.market_ticker
            and snapshots.captured_at = level_stats.captured_at
            and snapshots.gatherer_id = level_stats.gatherer_id
            and snapshots.source = level_stats.source
),

flagged as (
    select
        *,
        yes_levels + no_levels = 0 as is_empty_book,
        (
            not is_unknown_market
            and is_off_tick_grid is false
            and not is_crossed
            and not is_out_of_order
            and not is_nonpositive_size
        ) as is_clean,
        pg_current_xact_id() as xact_id
    from enriched
)

select * from flagged
