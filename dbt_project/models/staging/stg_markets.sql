-- Markets (current version), renamed and typed once; attributes carry a market_ prefix where
-- the bare name would be ambiguous beside events and series. The tick grid (price_ranges in
-- raw) is unnested by stg_market_price_ranges.

with

source as (
    select * from {{ source('kstore', 'markets') }}
),

renamed as (
    select
        -- keys
        market_ticker::text as market_ticker,
        event_ticker::text as event_ticker,
        series_ticker::text as series_ticker,

        -- attributes
        market_type::text as market_type,
        title::text as market_title,
        yes_sub_title::text as yes_sub_title,
        no_sub_title::text as no_sub_title,
        strike_type::text as strike_type,
        floor_strike::numeric as floor_strike,
        cap_strike::numeric as cap_strike,
        price_level_structure::text as price_level_structure,
        fractional_trading_enabled::boolean as is_fractional_trading_enabled,

        -- lifecycle
        status::text as market_status,
        result::text as market_result,
        settlement_value::numeric(10, 6) as settlement_value,
        created_time::timestamptz as created_at,
        open_time::timestamptz as opens_at,
        close_time::timestamptz as closes_at,
        expected_expiration_time::timestamptz as expected_expiration_at,
        settlement_ts::timestamptz as settled_at,

        -- last seen quote
        yes_bid::numeric(10, 6) as yes_bid,
        yes_ask::numeric(10, 6) as yes_ask,
        last_price::numeric(10, 6) as last_price,
        volume::numeric(18, 2) as volume,
        open_interest::numeric(18, 2) as open_interest,

        -- versions
        updated_time::timestamptz as updated_at,
        observed_at::timestamptz as observed_at,
        changed_at::timestamptz as changed_at
    from source
)

select * from renamed
