{#- The tick-grid check of the processed layer, as two CTEs (each followed by a comma):
    tick_prices, the distinct (market_ticker, price) of `rows` (`price` names its price column),
    and tick_checks, one row per such pair with is_off_tick_grid: true when the price lies in
    none of the market's price_ranges at a multiple of tick_size from range_start. A market
    without a known grid has no row, so a left join leaves the flag null (unchecked). Reads the
    model's `price_ranges` import CTE (stg_market_price_ranges). -#}
{% macro off_tick_grid(rows, price) -%}
tick_prices as (
    select distinct
        market_ticker,
        {{ price }} as price
    from {{ rows }}
),

tick_checks as (
    select
        tick_prices.market_ticker,
        tick_prices.price,
        not bool_or(
            tick_prices.price between price_ranges.range_start and price_ranges.range_end
            and mod(tick_prices.price - price_ranges.range_start, price_ranges.tick_size) = 0
        ) as is_off_tick_grid
    from tick_prices
    inner join price_ranges on tick_prices.market_ticker = price_ranges.market_ticker
    group by tick_prices.market_ticker, tick_prices.price
),
{%- endmacro %}
