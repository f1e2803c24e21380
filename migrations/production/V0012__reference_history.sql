-- Append-only history of series, events and markets: every distinct version any gatherer
-- delivered, once (keyed by ticker and content hash), whether or not it became current.

create table kstore.series_history (
    series_ticker text not null,
    content_hash text not null,
    updated_time timestamptz,
    observed_at timestamptz not null,
    recorded_at timestamptz not null default clock_timestamp(),
    raw jsonb not null,
    primary key (series_ticker, content_hash)
);

create table kstore.events_history (
    event_ticker text not null,
    content_hash text not null,
    updated_time timestamptz,
    observed_at timestamptz not null,
    recorded_at timestamptz not null default clock_timestamp(),
    raw jsonb not null,
    primary key (event_ticker, content_hash)
);

create table kstore.markets_history (
    market_ticker text not null,
    content_hash text not null,
    updated_time timestamptz,
    observed_at timestamptz not null,
    recorded_at timestamptz not null default clock_timestamp(),
    raw jsonb not null,
    primary key (market_ticker, content_hash)
);

create index markets_history_updated_time_idx on kstore.markets_history (
    market_ticker, updated_time
);
