-- Order-book changes (resting bids; new size = old size + delta). Dedup key: what the exchange
-- sent (market, ts, side, price, delta) plus dup_ordinal, which numbers identical tuples within
-- one gatherer's stream, so two equal orders in the same millisecond are two rows. A delta sent
-- without exchange time carries its receive time in ts and the gatherer id in key_scope: it can
-- only match itself. use_yes_price records the price scale of the NO side for the row.

create table kstore.orderbook_deltas (
    market_ticker text not null,
    ts timestamptz not null,
    side text not null check (side in ('yes', 'no')),
    price numeric(10, 6) not null check (price between 0 and 1),
    delta numeric(18, 2) not null check (delta <> 0),
    dup_ordinal integer not null default 0 check (dup_ordinal >= 0),
    key_scope text not null default '',
    use_yes_price boolean not null,
    sid integer,
    seq bigint,
    connection_id text,
    sending_ts timestamptz,
    received_at timestamptz not null default clock_timestamp(),
    gatherer_id text not null,
    primary key (market_ticker, ts, side, price, delta, dup_ordinal, key_scope)
);

select ops.make_timeseries('kstore.orderbook_deltas', 'ts');

create index orderbook_deltas_received_at_idx on kstore.orderbook_deltas (received_at);

comment on table kstore.orderbook_deltas is 'Order-book deltas; one row per exchange delta.';
comment on column kstore.orderbook_deltas.key_scope is
'Empty when ts is exchange time; the gatherer id when ts is receive time (no cross-match).';
