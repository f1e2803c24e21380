-- Events (a question with one or more markets). Mutable, newest version wins (see series).

create table kstore.events (
    event_ticker text primary key,
    series_ticker text not null,
    title text,
    sub_title text,
    category text,
    collateral_return_type text,
    mutually_exclusive boolean,
    strike_date timestamptz,
    strike_period text,
    updated_time timestamptz,
    observed_at timestamptz not null default clock_timestamp(),
    changed_at timestamptz not null default clock_timestamp(),
    raw jsonb not null,
    content_hash text generated always as (md5(raw::text)) stored
);

create index events_series_ticker_idx on kstore.events (series_ticker);
create index events_changed_at_idx on kstore.events (changed_at);
