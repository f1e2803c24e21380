-- Trades as merged into production, renamed and typed once: the exchange time is traded_at,
-- the exchange's count is contracts. One row per trade_id (the dedup key).

with

source as (
    select * from {{ source('kstore', 'trades') }}
),

renamed as (
    select
        -- keys
        trade_id::uuid as trade_id,
        market_ticker::text as market_ticker,

        -- price and size
        yes_price::numeric(10, 6) as yes_price,
        no_price::numeric(10, 6) as no_price,
        count::numeric(18, 2) as contracts,
        taker_outcome_side::text as taker_outcome_side,
        taker_book_side::text as taker_book_side,
        is_block_trade::boolean as is_block_trade,

        -- exchange time
        ts::timestamptz as traded_at,

        {{ merged_row_columns() }}
    from source
)

select * from renamed
