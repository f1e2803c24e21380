-- Order-book deltas, renamed and typed once. delta_at is exchange time, or the gatherer's
-- receive time when the exchange sent none (key_scope then holds the gatherer id). price is as
-- sent: for side no it is on the NO leg's scale unless use_yes_price.

with

source as (
    select * from {{ source('kstore', 'orderbook_deltas') }}
),

renamed as (
    select
        -- keys
        market_ticker::text as market_ticker,
        ts::timestamptz as delta_at,
        side::text as side,
        price::numeric(10, 6) as price,
        delta::numeric(18, 2) as delta,
        dup_ordinal::integer as dup_ordinal,
        key_scope::text as key_scope,

        -- feed settings and stream position
        use_yes_price::boolean as use_yes_price,
        sid::integer as sid,
        seq::bigint as seq,
        connection_id::text as connection_id,

        {{ merged_row_columns() }}
    from source
)

select * from renamed
