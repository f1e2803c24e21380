-- Ticker updates (quote, last price, volume, open interest). Dedup key: market, exchange time
-- and a fingerprint of the payload fields (computed by the writer), since the exchange sends no
-- id and several updates can share a millisecond.

create table kstore.tickers (
    market_ticker text not null,
    ts timestamptz not null,
    fingerprint bigint not null,
    price numeric(10, 6),
    yes_bid numeric(10, 6),
    yes_ask numeric(10, 6),
    yes_bid_size numeric(18, 2),
    yes_ask_size numeric(18, 2),
    last_trade_size numeric(18, 2),
    volume numeric(18, 2),
    open_interest numeric(18, 2),
    dollar_volume bigint,
    dollar_open_interest bigint,
    sending_ts timestamptz,
    received_at timestamptz not null default clock_timestamp(),
    gatherer_id text not null,
    primary key (market_ticker, ts, fingerprint)
);

select ops.make_timeseries('kstore.tickers', 'ts');

create index tickers_received_at_idx on kstore.tickers (received_at);

comment on table kstore.tickers is
'Ticker updates; one row per distinct payload per market and millisecond.';
