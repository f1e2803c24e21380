-- The storage policy a gatherer declares (DESIGN §1, policies/gatherer_ts.sql): a local buffer,
-- so 1-day chunks, compression after 1 day and short retention (trades 30, deltas 7, snapshots
-- 30, tickers 7 days). Checked as applied (ops.effective_policies: null compression settings
-- derived from the key) and as declared. ops.table_policies
-- itself: timeseries/test_table_policies.sql.

begin;
select plan(2);

select results_eq(
    $$select * from ops.effective_policies order by table_name::text$$,
    $$
        values
            (
                'kstore.orderbook_deltas'::regclass, interval '1 day', interval '1 day',
                'market_ticker', 'ts desc, side, price, delta, dup_ordinal, key_scope',
                interval '7 days', 14
            ),
            (
                'kstore.orderbook_snapshots'::regclass, interval '1 day', interval '1 day',
                'market_ticker', 'captured_at desc, gatherer_id, source', interval '30 days', 14
            ),
            (
                'kstore.tickers'::regclass, interval '1 day', interval '1 day', 'market_ticker',
                'ts desc, fingerprint', interval '7 days', 14
            ),
            (
                'kstore.trades'::regclass, interval '1 day', interval '1 day', 'market_ticker',
                'ts desc, trade_id', interval '30 days', 14
            )
    $$,
    'every time-series table has the gatherer default policy'
);

-- As declared (policies/gatherer_ts.sql): only what differs from the defaults the key gives:
-- trades' segmentby (its key leads with trade_id, unique per trade); chunks of a day.
select results_eq(
    $$
        select table_name::text, chunk_interval, compress_segmentby, compress_orderby
        from ops.table_policies
        order by table_name::text
    $$,
    $$
        values
            ('kstore.orderbook_deltas', interval '1 day', null, null),
            ('kstore.orderbook_snapshots', interval '1 day', null, null),
            ('kstore.tickers', interval '1 day', null, null),
            ('kstore.trades', interval '1 day', 'market_ticker', null)
    $$,
    'the policy file declares horizons, and a segmentby only where the key would mislead'
);

select * from finish();  -- noqa: AM04
rollback;
