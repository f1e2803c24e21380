-- Full books one gatherer observed (ws baselines, rest polls), renamed and typed once. Levels
-- are parallel arrays ascending by price, bids only; NO prices on the NO leg's scale unless
-- use_yes_price.

with

source as (
    select * from {{ source('kstore', 'orderbook_snapshots') }}
),

renamed as (
    select
        -- keys
        market_ticker::text as market_ticker,
        captured_at::timestamptz as captured_at,
        gatherer_id::text as gatherer_id,
        source::text as source,

        -- levels
        yes_prices::numeric(10, 6)[] as yes_prices,
        yes_sizes::numeric(18, 2)[] as yes_sizes,
        no_prices::numeric(10, 6)[] as no_prices,
        no_sizes::numeric(18, 2)[] as no_sizes,

        -- feed settings and stream position
        use_yes_price::boolean as use_yes_price,
        sid::integer as sid,
        seq::bigint as seq,
        connection_id::text as connection_id,

        -- times
        received_at::timestamptz as received_at,
        merged_at::timestamptz as merged_at
    from source
)

select * from renamed
