-- Breaks in the feed the gatherers reported (seq jumps, reconnects, dropped subscriptions; one
-- row per gatherer and gap), renamed and typed once.

with

source as (
    select * from {{ source('kstore', 'feed_gaps') }}
),

renamed as (
    select
        -- keys
        gatherer_id::text as gatherer_id,
        gap_id::bigint as gap_id,

        -- where
        connection_id::text as connection_id,
        sid::integer as sid,
        channel::text as channel,
        market_ticker::text as market_ticker,
        cause::text as cause,
        expected_seq::bigint as expected_seq,
        received_seq::bigint as received_seq,

        -- when and how it was repaired
        last_frame_at::timestamptz as last_frame_at,
        detected_at::timestamptz as detected_at,
        resumed_at::timestamptz as resumed_at,
        recovered_at::timestamptz as recovered_at,
        recovery::text as recovery
    from source
)

select * from renamed
