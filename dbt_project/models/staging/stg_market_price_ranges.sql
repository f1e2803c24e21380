-- The tick grid of each market: one row per entry of the market's price_ranges as the exchange
-- sent it (prices in [range_start, range_end] are valid at multiples of tick_size from
-- range_start). A market without price_ranges in its raw object has no row: grid unknown.

with

source as (
    select * from {{ source('kstore', 'markets') }}
),

ranges_json as (
    select
        market_ticker,
        case
            when jsonb_typeof(raw -> 'price_ranges') = 'array' then raw -> 'price_ranges'
            else '[]'::jsonb
        end as price_ranges
    from source
),

unnested as (
    select
        ranges_json.market_ticker::text as market_ticker,
        price_range.range_index::integer as range_index,
        (price_range.entry ->> 'start')::numeric(10, 6) as range_start,
        (price_range.entry ->> 'end')::numeric(10, 6) as range_end,
        (price_range.entry ->> 'step')::numeric(10, 6) as tick_size
    from ranges_json
    cross join
        lateral jsonb_array_elements(ranges_json.price_ranges)
        with ordinality as price_range (entry, range_index)
)

select * from unnested
