-- Series (current version), renamed and typed once; attributes carry a series_ prefix so the
-- processed layer can join them beside events and markets without renaming again.

with

source as (
    select * from {{ source('kstore', 'series') }}
),

renamed as (
    select
        -- key
        series_ticker::text as series_ticker,

        -- attributes
        title::text as series_title,
        category::text as series_category,
        frequency::text as series_frequency,
        tags::text[] as series_tags,
        fee_type::text as fee_type,
        fee_multiplier::numeric(12, 6) as fee_multiplier,
        contract_url::text as contract_url,

        -- versions
        updated_time::timestamptz as updated_at,
        observed_at::timestamptz as observed_at,
        changed_at::timestamptz as changed_at
    from source
)

select * from renamed
