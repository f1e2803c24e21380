-- ops.rebase() (sql/production/ops_rebase.sql, decision 0070): a gatherer whose transaction ids
-- restarted (restored into a new cluster) is refused by ops.pull(); ops.rebase() merges every row
-- it holds received since the bound, whatever its transaction id (restored rows above the new
-- horizon, new rows below it), skips rows production has, and moves the cursor to the horizon,
-- after which ops.pull() goes on. Against a stand-in gatherer, as in test_ops_pull.sql.

begin;
select plan(6);

create schema gatherer_tap;
create table gatherer_tap.ts_xact_horizon (horizon xid8 not null);
create table gatherer_tap.rel_xact_horizon (horizon xid8 not null);
create table gatherer_tap.ts_capture_state (stopped_at timestamptz, stopped_xid xid8);
insert into gatherer_tap.ts_capture_state values (null, null);
create table gatherer_tap.trades (like kstore.trades including defaults);
alter table gatherer_tap.trades drop column merged_at;
insert into ops.dedup_cursors (gatherer_id, table_name, next_xid)
select
    'tap' as gatherer_id,
    t.name as table_name,
    '9000'::xid8 as next_xid
from unnest(ops.pulled_tables()) as t (name);

-- Restored rows 1-3 (old cluster: transactions 8000-8002; trade 1 already in production, trade
-- 0 older than the bound), new rows 4-5 (new cluster: 50); the new cluster's horizon is 60.
insert into gatherer_tap.ts_xact_horizon (horizon) values ('60');
insert into gatherer_tap.trades (
    trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id, received_at, xact_id
)
select
    ('f0000000-0000-0000-0000-00000000000' || r.n)::uuid as trade_id,
    '2030-01-02 00:00+00'::timestamptz + r.n * interval '1 second' as ts,
    'KXTEST-1' as market_ticker,
    0.42 as yes_price,
    0.58 as no_price,
    1 as count,
    'g1' as gatherer_id,
    '2030-01-02 00:00+00'::timestamptz + r.n * interval '1 second' as received_at,
    r.xact_id::xid8 as xact_id
from (
    values (0, '7999'), (1, '8000'), (2, '8001'), (3, '8002'), (4, '50'), (5, '50')
) as r (n, xact_id);
insert into kstore.trades (
    trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id, received_at
)
select
    t.trade_id,
    t.ts,
    t.market_ticker,
    t.yes_price,
    t.no_price,
    t.count,
    t.gatherer_id,
    t.received_at
from gatherer_tap.trades as t
where t.xact_id = '8000';

select throws_like(
    $$select * from ops.pull('tap', 'trades', 10)$$,
    '%is at transaction 60 but its trades cursor is at 9000%',
    'ops.pull() refuses a gatherer whose transaction ids went back'
);
select results_eq(
    $$select * from ops.rebase('tap', 'trades', '2030-01-02 00:00:01+00')$$,
    $$values (5::bigint, 4::bigint, '60'::xid8)$$,
    'rows since the bound are read whatever their ids; the one production has is skipped'
);
select results_eq(
    $$select count(*)::int from kstore.trades where market_ticker = 'KXTEST-1'$$,
    $$values (5)$$,
    'production holds trades 1-5 once; trade 0, older than the bound, is left out'
);
select results_eq(
    $$select next_xid, caught_up from ops.dedup_cursors
      where gatherer_id = 'tap' and table_name = 'trades'$$,
    $$values ('60'::xid8, false)$$,
    'the cursor is the horizon of the same snapshot'
);
update gatherer_tap.ts_xact_horizon set horizon = '70';
insert into gatherer_tap.trades (
    trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id, received_at, xact_id
) values (
    'f0000000-0000-0000-0000-000000000006', '2030-01-02 00:00:06+00', 'KXTEST-1', 0.42, 0.58,
    1, 'g1', '2030-01-02 00:00:06+00', '65'
);
select results_eq(
    $$select rows_inserted, next_xid, caught_up from ops.pull('tap', 'trades', 10)$$,
    $$values (1::bigint, '70'::xid8, true)$$,
    'ops.pull() goes on from there with the new rows'
);
select throws_ok(
    $$select * from ops.rebase('tap', 'quarantine', null)$$,
    'P0001', 'ops.rebase: quarantine is not a pulled table',
    'ops.rebase() refuses a table that is not pulled'
);

select * from finish();  -- noqa: AM04
rollback;
