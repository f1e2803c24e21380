-- What each tier's policy file declares (policies/gatherer_ts.sql, policies/production.sql):
-- only what differs from the defaults ops.effective_policies derives from the key: trades'
-- segmentby (its key leads with trade_id, unique per trade); chunks of a day. The horizons each
-- tier applies: <kind>/test_policies.sql.

begin;
select plan(1);

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
