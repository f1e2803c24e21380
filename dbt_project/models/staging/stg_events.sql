-- Events (current version), renamed and typed once; attributes carry an event_ prefix.

with

source as (
    select * from {{ source('kstore', 'events') }}
),

renamed as (
    select
        -- keys
        event_ticker::text as event_ticker,
        series_ticker::text as series_ticker,

        -- attributes
        title::text as event_title,
        sub_title::text as event_sub_title,
        category::text as event_category,
        collateral_return_type::text as collateral_return_type,
        mutually_exclusive::boolean as is_mutually_exclusive,
        strike_date::timestamptz as strike_at,
        strike_period::text as strike_period,

        -- versions
        updated_time::timestamptz as updated_at,
        observed_at::timestamptz as observed_at,
        changed_at::timestamptz as changed_at
    from source
)

select * from renamed
