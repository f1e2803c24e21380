-- The storage policy production declares (DESIGN §1, policies/production.sql): the
-- authoritative store, so compression after 7 days, 7-day chunks for trades and deltas (their
-- compressed segments hold a market's week, decision 0075), 1-day chunks for the others,
-- trades and snapshots kept forever, deltas 90 days, tickers 30 days. Checked as applied (ops.effective_policies: null
-- compression settings derived from the key); as declared: timeseries/test_declared_policies.sql.
-- ops.table_policies itself:
-- timeseries/test_table_policies.sql.

begin;
select plan(1);

select results_eq(
    $$select * from ops.effective_policies order by table_name::text$$,
    $$
        values
            (
                'kstore.orderbook_deltas'::regclass, interval '7 days', interval '7 days',
                'market_ticker', 'ts desc, side, price, delta, dup_ordinal, key_scope',
                interval '90 days', 7
            ),
            (
                'kstore.orderbook_snapshots'::regclass, interval '1 day', interval '7 days',
                'market_ticker', 'captured_at desc, gatherer_id, source', null, 7
            ),
            (
                'kstore.tickers'::regclass, interval '1 day', interval '7 days', 'market_ticker',
                'ts desc, fingerprint', interval '30 days', 7
            ),
            (
                'kstore.trades'::regclass, interval '7 days', interval '7 days', 'market_ticker',
                'ts desc, trade_id', null, 7
            )
    $$,
    'every time-series table has the production default policy (null retention: keep forever)'
);

select * from finish();  -- noqa: AM04
rollback;
