-- Public trades as the exchange printed them. Dedup key: trade_id (+ ts, which every unique
-- key of a time-partitioned table must contain). Prices in dollars with 6 decimals, counts in
-- contracts with 2 decimals: exact, never floats.

create table kstore.trades (
    trade_id uuid not null,
    ts timestamptz not null,
    market_ticker text not null,
    yes_price numeric(10, 6) not null check (yes_price between 0 and 1),
    no_price numeric(10, 6) not null check (no_price between 0 and 1),
    count numeric(18, 2) not null check (count > 0),
    taker_outcome_side text check (taker_outcome_side in ('yes', 'no')),
    taker_book_side text check (taker_book_side in ('bid', 'ask')),
    is_block_trade boolean not null default false,
    sending_ts timestamptz,
    received_at timestamptz not null default clock_timestamp(),
    gatherer_id text not null,
    primary key (trade_id, ts)
);

select ops.make_timeseries('kstore.trades', 'ts');

create index trades_market_ticker_ts_idx on kstore.trades (market_ticker, ts);
create index trades_received_at_idx on kstore.trades (received_at);

comment on table kstore.trades is 'Public trades; one row per exchange trade_id.';
comment on column kstore.trades.ts is 'Exchange time of the trade (ts_ms).';
comment on column kstore.trades.received_at is 'Gatherer clock when the frame arrived.';
comment on column kstore.trades.gatherer_id is
'Gatherer that captured the row (in production: the first one merged).';
