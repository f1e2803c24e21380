-- The storage policy production declares (DESIGN §1, policies/production.sql): the
-- authoritative store, so 1-day chunks (14 days premade), compression after 7 days (trades and
-- deltas in time order, no segmentby: decision 0075), trades and snapshots kept forever, deltas
-- 90 days, tickers 30 days. Checked as applied (ops.effective_policies: null compression
-- settings derived from the key) and as declared. ops.table_policies itself:
-- timeseries/test_table_policies.sql.

begin;
select plan(2);

select results_eq(
    $$select * from ops.effective_policies order by table_name::text$$,
    $$
        values
            (
                'kstore.orderbook_deltas'::regclass, interval '1 day', interval '7 days',
                '', 'ts desc, market_ticker, side, price, delta, dup_ordinal, key_scope',
                interval '90 days', 14
            ),
            (
                'kstore.orderbook_snapshots'::regclass, interval '1 day', interval '7 days',
                'market_ticker', 'captured_at desc, gatherer_id, source', null, 14
            ),
            (
                'kstore.tickers'::regclass, interval '1 day', interval '7 days', 'market_ticker',
                'ts desc, fingerprint', interval '30 days', 14
            ),
            (
                'kstore.trades'::regclass, interval '1 day', interval '7 days', '',
                'ts desc, trade_id', null, 14
            )
    $$,
    'every time-series table has the production default policy (null retention: keep forever)'
);

-- As declared (policies/production.sql): only what differs from the defaults the key gives:
-- no segmentby for trades and deltas (batches in time order, decision 0075); chunks of a day.
select results_eq(
    $$
        select table_name::text, chunk_interval, compress_segmentby, compress_orderby
        from ops.table_policies
        order by table_name::text
    $$,
    $$
        values
            ('kstore.orderbook_deltas', interval '1 day', '', null),
            ('kstore.orderbook_snapshots', interval '1 day', null, null),
            ('kstore.tickers', interval '1 day', null, null),
            ('kstore.trades', interval '1 day', '', null)
    $$,
    'the policy file declares horizons, and a segmentby only where the key''s would not do'
);

select * from finish();  -- noqa: AM04
rollback;
