-- Ticker updates (top of book, last price, volume), renamed and typed once: the exchange time
-- is quoted_at, the ticker's price is last_price.

with

source as (
    select * from {{ source('kstore', 'tickers') }}
),

renamed as (
    select
        -- keys
        market_ticker::text as market_ticker,
        ts::timestamptz as quoted_at,
        fingerprint::bigint as fingerprint,

        -- quote
        price::numeric(10, 6) as last_price,
        yes_bid::numeric(10, 6) as yes_bid,
        yes_ask::numeric(10, 6) as yes_ask,
        yes_bid_size::numeric(18, 2) as yes_bid_size,
        yes_ask_size::numeric(18, 2) as yes_ask_size,
        last_trade_size::numeric(18, 2) as last_trade_size,

        -- activity
        volume::numeric(18, 2) as volume,
        open_interest::numeric(18, 2) as open_interest,
        dollar_volume::bigint as dollar_volume,
        dollar_open_interest::bigint as dollar_open_interest,

        {{ merged_row_columns() }}
    from source
)

select * from renamed
