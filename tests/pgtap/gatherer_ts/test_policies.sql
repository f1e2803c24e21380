-- The storage policy a gatherer declares (DESIGN §1, policies/gatherer_ts.sql): a local buffer,
-- so 1-day chunks, compression after 1 day and short retention (trades 30, deltas 7, snapshots
-- 30, tickers 7 days). Checked as applied (ops.effective_policies: null compression settings
-- derived from the key); as declared: timeseries/test_declared_policies.sql. ops.table_policies
-- itself: timeseries/test_table_policies.sql.

begin;
select plan(1);

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

select * from finish();  -- noqa: AM04
rollback;
