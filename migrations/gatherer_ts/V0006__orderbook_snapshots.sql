-- Full books observed by one gatherer: WS snapshots (baselines of its delta stream) and
-- periodic REST books. Keyed per gatherer and source, never matched across gatherers.
-- Levels are parallel arrays (price, size), ascending by price; bids only on both sides.

create table kstore.orderbook_snapshots (
    market_ticker text not null,
    captured_at timestamptz not null,
    gatherer_id text not null,
    source text not null check (source in ('ws', 'rest')),
    yes_prices numeric(10, 6)[] not null default '{}',
    yes_sizes numeric(18, 2)[] not null default '{}',
    no_prices numeric(10, 6)[] not null default '{}',
    no_sizes numeric(18, 2)[] not null default '{}',
    use_yes_price boolean not null,
    sid integer,
    seq bigint,
    connection_id text,
    received_at timestamptz not null default clock_timestamp(),
    primary key (market_ticker, captured_at, gatherer_id, source),
    check (cardinality(yes_prices) = cardinality(yes_sizes)),
    check (cardinality(no_prices) = cardinality(no_sizes))
);

select ops.make_timeseries('kstore.orderbook_snapshots', 'captured_at');

create index orderbook_snapshots_received_at_idx on kstore.orderbook_snapshots (received_at);

comment on table kstore.orderbook_snapshots is 'Order books as one gatherer saw them (ws or rest).';
