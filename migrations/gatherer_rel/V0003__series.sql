-- Series as the exchange describes them. Mutable: the row holds the newest version (by exchange
-- updated_time, else by when it was observed; an older version never replaces a newer one,
-- enforced by a trigger in sql/). changed_at is the local change stamp that pulls poll by.

create table kstore.series (
    series_ticker text primary key,
    title text,
    category text,
    frequency text,
    tags text[],
    fee_type text,
    fee_multiplier numeric(12, 6),
    contract_url text,
    updated_time timestamptz,
    observed_at timestamptz not null default clock_timestamp(),
    changed_at timestamptz not null default clock_timestamp(),
    raw jsonb not null,
    content_hash text generated always as (md5(raw::text)) stored
);

create index series_changed_at_idx on kstore.series (changed_at);
