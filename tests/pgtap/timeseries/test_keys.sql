-- Keys of the four time-series tables, the same in a gatherer's time-series database and in
-- production: the dedup keys exactly as DESIGN §3 declares them, the indexes pulls and queries
-- rely on (xact_id: the deduplicator's cursor), and what the keys do with data: a re-sent event
-- (by a reconnecting gatherer, or pulled from a second one) is one row (`on conflict do
-- nothing`), distinct events are distinct rows, per-connection fields (sid, seq, gatherer) never
-- split or merge rows.

begin;
select plan(26);

-- ---------------------------------------------------------------- declared keys

select col_is_pk(
    'kstore', 'trades', array['trade_id', 'ts'],
    'trades are keyed by (trade_id, ts)'
);
select col_is_pk(
    'kstore', 'orderbook_deltas',
    array['market_ticker', 'ts', 'side', 'price', 'delta', 'dup_ordinal', 'key_scope'],
    'orderbook_deltas are keyed by (market_ticker, ts, side, price, delta, dup_ordinal, key_scope)'
);
select col_is_pk(
    'kstore', 'orderbook_snapshots', array['market_ticker', 'captured_at', 'gatherer_id', 'source'],
    'orderbook_snapshots are keyed by (market_ticker, captured_at, gatherer_id, source)'
);
select col_is_pk(
    'kstore', 'tickers', array['market_ticker', 'ts', 'fingerprint'],
    'tickers are keyed by (market_ticker, ts, fingerprint)'
);

-- ---------------------------------------------------------------- indexes

select has_index(
    'kstore', 'trades', 'trades_market_ticker_ts_idx', array['market_ticker', 'ts'],
    'trades are indexed by (market_ticker, ts)'
);
select has_index(
    'kstore', 'trades', 'trades_received_at_idx', array['received_at'],
    'trades are indexed by received_at (reads by arrival)'
);
select has_index(
    'kstore', 'trades', 'trades_xact_id_idx', array['xact_id'],
    'trades are indexed by xact_id (dedup pulls by transaction id)'
);
select has_index(
    'kstore', 'orderbook_deltas', 'orderbook_deltas_received_at_idx', array['received_at'],
    'orderbook_deltas are indexed by received_at (reads by arrival)'
);
select has_index(
    'kstore', 'orderbook_deltas', 'orderbook_deltas_xact_id_idx', array['xact_id'],
    'orderbook_deltas are indexed by xact_id (dedup pulls by transaction id)'
);
select has_index(
    'kstore', 'orderbook_snapshots', 'orderbook_snapshots_received_at_idx', array['received_at'],
    'orderbook_snapshots are indexed by received_at (reads by arrival)'
);
select has_index(
    'kstore', 'orderbook_snapshots', 'orderbook_snapshots_xact_id_idx', array['xact_id'],
    'orderbook_snapshots are indexed by xact_id (dedup pulls by transaction id)'
);
select has_index(
    'kstore', 'tickers', 'tickers_received_at_idx', array['received_at'],
    'tickers are indexed by received_at (reads by arrival)'
);
select has_index(
    'kstore', 'tickers', 'tickers_xact_id_idx', array['xact_id'],
    'tickers are indexed by xact_id (dedup pulls by transaction id)'
);

-- ops.make_timeseries promises the same indexes on both paths (no TimescaleDB default index).
select indexes_are(
    'kstore', 'trades',
    array[
        'trades_pkey', 'trades_market_ticker_ts_idx', 'trades_received_at_idx',
        'trades_xact_id_idx'
    ],
    'trades have exactly the declared indexes on this storage path'
);
select indexes_are(
    'kstore', 'orderbook_deltas',
    array[
        'orderbook_deltas_pkey', 'orderbook_deltas_received_at_idx',
        'orderbook_deltas_xact_id_idx'
    ],
    'orderbook_deltas have exactly the declared indexes on this storage path'
);
select indexes_are(
    'kstore', 'orderbook_snapshots',
    array[
        'orderbook_snapshots_pkey', 'orderbook_snapshots_received_at_idx',
        'orderbook_snapshots_xact_id_idx'
    ],
    'orderbook_snapshots have exactly the declared indexes on this storage path'
);
select indexes_are(
    'kstore', 'tickers', array['tickers_pkey', 'tickers_received_at_idx', 'tickers_xact_id_idx'],
    'tickers have exactly the declared indexes on this storage path'
);

-- ---------------------------------------------------------------- trades: one row per trade_id

insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id)
values (
    'b0000000-0000-0000-0000-000000000001', '2030-01-02 03:04:05.678+00', 'KXTEST-1', 0.42, 0.58,
    3, 'g1'
);

select lives_ok(
    $$
        insert into kstore.trades (
            trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id
        )
        values (
            'b0000000-0000-0000-0000-000000000001', '2030-01-02 03:04:05.678+00', 'KXTEST-1',
            0.42, 0.58, 3, 'g2'
        )
        on conflict do nothing
    $$,
    'the same trade from a second gatherer inserts with on conflict do nothing'
);
select is(
    (
        select count(*) from kstore.trades
        where trade_id = 'b0000000-0000-0000-0000-000000000001'
    ),
    1::bigint,
    'a trade sent twice is one row'
);
select throws_ok(
    $$
        insert into kstore.trades (
            trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id
        )
        values (
            'b0000000-0000-0000-0000-000000000001', '2030-01-02 03:04:05.678+00', 'KXTEST-1',
            0.42, 0.58, 3, 'g1'
        )
    $$,
    '23505', null,
    'a duplicate trade without on conflict is a unique violation, never a silent second row'
);

-- ---------------------------------------------------------------- orderbook_deltas

insert into kstore.orderbook_deltas (
    market_ticker, ts, side, price, delta, use_yes_price, sid, seq, gatherer_id
)
values ('KXTEST-1', '2030-01-02 03:04:05.678+00', 'yes', 0.42, 25, true, 1, 100, 'g1');

insert into kstore.orderbook_deltas (
    market_ticker, ts, side, price, delta, use_yes_price, sid, seq, gatherer_id
)
values ('KXTEST-1', '2030-01-02 03:04:05.678+00', 'yes', 0.42, 25, true, 7, 9000, 'g2')
on conflict do nothing;

select is(
    (
        select count(*) from kstore.orderbook_deltas
        where market_ticker = 'KXTEST-1'
    ),
    1::bigint,
    'the same delta sent twice (other sid, seq, gatherer) is one row'
);

insert into kstore.orderbook_deltas (
    market_ticker, ts, side, price, delta, dup_ordinal, use_yes_price, gatherer_id
)
values ('KXTEST-1', '2030-01-02 03:04:05.678+00', 'yes', 0.42, 25, 1, true, 'g1')
on conflict do nothing;

select is(
    (
        select count(*) from kstore.orderbook_deltas
        where market_ticker = 'KXTEST-1'
    ),
    2::bigint,
    'an identical delta with dup_ordinal 1 (a second equal order in the same ms) is a second row'
);

insert into kstore.orderbook_deltas (
    market_ticker, ts, side, price, delta, key_scope, use_yes_price, gatherer_id
)
values ('KXTEST-1', '2030-01-02 03:04:05.678+00', 'yes', 0.42, 25, 'g1', true, 'g1')
on conflict do nothing;

select is(
    (
        select count(*) from kstore.orderbook_deltas
        where market_ticker = 'KXTEST-1'
    ),
    3::bigint,
    'a delta keyed per gatherer (key_scope) never matches an exchange-timed one'
);

insert into kstore.orderbook_deltas (
    market_ticker, ts, side, price, delta, use_yes_price, gatherer_id
)
values
('KXTEST-1', '2030-01-02 03:04:05.678+00', 'no', 0.42, 25, true, 'g1'),
('KXTEST-1', '2030-01-02 03:04:05.678+00', 'yes', 0.43, 25, true, 'g1'),
('KXTEST-1', '2030-01-02 03:04:05.678+00', 'yes', 0.42, -25, true, 'g1'),
('KXTEST-1', '2030-01-02 03:04:05.679+00', 'yes', 0.42, 25, true, 'g1')
on conflict do nothing;

select is(
    (
        select count(*) from kstore.orderbook_deltas
        where market_ticker = 'KXTEST-1'
    ),
    7::bigint,
    'deltas differing in side, price, delta or ts are distinct rows'
);

-- ---------------------------------------------------------------- tickers

insert into kstore.tickers (market_ticker, ts, fingerprint, price, gatherer_id)
values
('KXTEST-1', '2030-01-02 03:04:05.678+00', 11, 0.42, 'g1'),
('KXTEST-1', '2030-01-02 03:04:05.678+00', 11, 0.42, 'g2'),
('KXTEST-1', '2030-01-02 03:04:05.678+00', 12, 0.43, 'g1')
on conflict do nothing;

select results_eq(
    $$select fingerprint, gatherer_id from kstore.tickers order by fingerprint$$,
    $$values (11::bigint, 'g1'), (12::bigint, 'g1')$$,
    'tickers: one row per (market, ts, fingerprint); another payload in the same ms is a second row'
);

-- ---------------------------------------------------------------- orderbook_snapshots

insert into kstore.orderbook_snapshots (
    market_ticker, captured_at, gatherer_id, source, yes_prices, yes_sizes, use_yes_price
)
values
('KXTEST-1', '2030-01-02 03:04:05.678+00', 'g1', 'ws', '{0.41,0.42}', '{10,20}', true),
('KXTEST-1', '2030-01-02 03:04:05.678+00', 'g1', 'ws', '{0.41}', '{10}', true),
('KXTEST-1', '2030-01-02 03:04:05.678+00', 'g1', 'rest', '{0.41}', '{10}', true),
('KXTEST-1', '2030-01-02 03:04:05.678+00', 'g2', 'ws', '{0.41}', '{10}', true)
on conflict do nothing;

select results_eq(
    $$
        select gatherer_id, source, cardinality(yes_prices)
        from kstore.orderbook_snapshots
        order by gatherer_id, source
    $$,
    $$values ('g1', 'rest', 1), ('g1', 'ws', 2), ('g2', 'ws', 1)$$,
    'snapshots: one row per (market, captured_at, gatherer, source), first one kept'
);

select * from finish();  -- noqa: AM04
rollback;
