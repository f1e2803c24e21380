-- What each tier's policy file declares (policies/gatherer_ts.sql, policies/production.sql):
-- only what differs from the defaults ops.effective_policies derives from the key: trades'
-- segmentby (its key leads with trade_id, unique per trade). The chunk intervals and horizons
-- each tier applies (production: 7-day chunks for trades and deltas, decision 0075):
-- <kind>/test_policies.sql.

begin;
select plan(1);

select results_eq(
    $$
        select table_name::text, compress_segmentby, compress_orderby
        from ops.table_policies
        order by table_name::text
    $$,
    $$
        values
            ('kstore.orderbook_deltas', null, null),
            ('kstore.orderbook_snapshots', null, null),
            ('kstore.tickers', null, null),
            ('kstore.trades', 'market_ticker', null)
    $$,
    'the policy file declares horizons, and a segmentby only where the key would mislead'
);

select * from finish();  -- noqa: AM04
rollback;
