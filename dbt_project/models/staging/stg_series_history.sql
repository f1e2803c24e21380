-- Every distinct series version any gatherer delivered (append-only), renamed and typed once;
-- raw is the object as sent.

with

source as (
    select * from {{ source('kstore', 'series_history') }}
),

renamed as (
    select
        -- keys
        series_ticker::text as series_ticker,
        content_hash::text as content_hash,

        -- version
        updated_time::timestamptz as updated_at,
        observed_at::timestamptz as observed_at,
        recorded_at::timestamptz as recorded_at,
        raw::jsonb as raw
    from source
)

select * from renamed
