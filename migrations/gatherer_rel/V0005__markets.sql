-- Markets (one tradable contract). Mutable, newest exchange updated_time wins. Both status
-- vocabularies are kept as sent (REST: initialized..finalized; lifecycle events in raw).
-- Prices in dollars (6 decimals), sizes in contracts (2 decimals).

create table kstore.markets (
    market_ticker text primary key,
    event_ticker text not null,
    series_ticker text,
    market_type text,
    title text,
    yes_sub_title text,
    no_sub_title text,
    status text,
    result text,
    created_time timestamptz,
    open_time timestamptz,
    close_time timestamptz,
    expected_expiration_time timestamptz,
    settlement_ts timestamptz,
    settlement_value numeric(10, 6),
    strike_type text,
    floor_strike numeric,
    cap_strike numeric,
    price_level_structure text,
    fractional_trading_enabled boolean,
    yes_bid numeric(10, 6),
    yes_ask numeric(10, 6),
    last_price numeric(10, 6),
    volume numeric(18, 2),
    open_interest numeric(18, 2),
    updated_time timestamptz,
    observed_at timestamptz not null default clock_timestamp(),
    changed_at timestamptz not null default clock_timestamp(),
    raw jsonb not null,
    content_hash text generated always as (md5(raw::text)) stored
);

create index markets_event_ticker_idx on kstore.markets (event_ticker);
create index markets_status_idx on kstore.markets (status);
create index markets_changed_at_idx on kstore.markets (changed_at);
