-- Guarded retention on a gatherer (DESIGN §4, sql/gatherer_ts/ops_retention_safe.sql): through
-- ops.maintain(), a partition past its retention horizon is dropped only when every row in it
-- was inserted by a transaction below the deduplicator's acknowledged transaction horizon
-- (ops.dedup_ack.acked_xid); otherwise it is kept and reported, compressed or not. A row whose
-- transaction is at or above the horizon (it committed after the ack) keeps its partition, and
-- acked_through (for display) unlocks nothing. Recent partitions are never touched by
-- retention. Run as kstore_maintainer; what ops.maintain() does on every tier:
-- timeseries/test_ops_maintain.sql.

begin;
select plan(12);
set local client_min_messages = warning;

-- Rows of an earlier transaction (its id supplied explicitly) stand for rows the deduplicator
-- has merged; the rows this transaction inserts are merged only once the horizon passes it.
create temp table fixture as
select (pg_current_xact_id()::text::numeric - 1)::text::xid8 as earlier_xid;

-- tickers (retain 7 days): two rows of a day 40 days ago, one of the earlier transaction
-- (merged early) and one of this transaction (a late arrival), and a recent row. trades
-- (retain 30 days): one row 40 days ago, one 10 days ago.
insert into kstore.tickers (market_ticker, ts, fingerprint, gatherer_id, xact_id)
select
    'KXTEST-1' as market_ticker,
    date_trunc('day', now() - interval '40 days', 'UTC') + interval '1 hour' as ts,
    1 as fingerprint,
    'g1' as gatherer_id,
    f.earlier_xid as xact_id
from fixture as f;

insert into kstore.tickers (market_ticker, ts, fingerprint, gatherer_id)
values
(
    'KXTEST-1', date_trunc('day', now() - interval '40 days', 'UTC') + interval '2 hours', 2,
    'g1'
),
('KXTEST-1', now() - interval '3 days', 3, 'g1');

insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id)
values
(gen_random_uuid(), now() - interval '40 days', 'KXTEST-1', 0.42, 0.58, 1, 'g1'),
(gen_random_uuid(), now() - interval '10 days', 'KXTEST-1', 0.42, 0.58, 1, 'g1');

-- ---------------------------------------------------------------- nothing acknowledged

set local role kstore_maintainer;

select results_eq(
    $$
        select table_name, action, detail
        from ops.maintain()
        where action <> 'compressed'
        order by table_name
    $$,
    $$
        values
            (
                'kstore.tickers', 'kept',
                'past retention but not yet safe (unmerged or unverified rows)'
            ),
            (
                'kstore.trades', 'kept',
                'past retention but not yet safe (unmerged or unverified rows)'
            )
    $$,
    'without an acknowledgement, partitions past retention are kept and reported'
);

reset role;

select is(
    (select count(*) from kstore.tickers),
    3::bigint,
    'no ticker was dropped'
);

-- ---------------------------------------------------------------- acked_through alone

insert into ops.dedup_ack (table_name, acked_through)
values ('tickers', 'infinity');

set local role kstore_maintainer;

select results_eq(
    $$
        select table_name, action
        from ops.maintain()
        where table_name = 'kstore.tickers' and action <> 'compressed'
    $$,
    $$values ('kstore.tickers', 'kept')$$,
    'an acknowledgement without acked_xid unlocks nothing, whatever its acked_through'
);

reset role;

-- ---------------------------------------------------------------- partly acknowledged

-- The horizon at this transaction: the earlier transaction's row is merged, this one's is not
-- (it committed after the ack).
update ops.dedup_ack set acked_xid = pg_current_xact_id()
where table_name = 'tickers';

set local role kstore_maintainer;

select results_eq(
    $$
        select table_name, action
        from ops.maintain()
        where table_name = 'kstore.tickers' and action <> 'compressed'
    $$,
    $$values ('kstore.tickers', 'kept')$$,
    'a partition holding one row of a transaction at or above the acked horizon is kept'
);

reset role;

select is(
    (select count(*) from kstore.tickers),
    3::bigint,
    'the merged row was not dropped with its unmerged neighbour'
);

-- ---------------------------------------------------------------- fully acknowledged

-- The horizon just above every ticker's transaction.
update ops.dedup_ack set
    acked_xid = (
        select (max(t.xact_id)::text::numeric + 1)::text::xid8
        from kstore.tickers as t
    )
where table_name = 'tickers';

set local role kstore_maintainer;

select results_eq(
    $$
        select table_name, action, detail
        from ops.maintain()
        where action <> 'compressed'
        order by table_name
    $$,
    $$
        values
            ('kstore.tickers', 'dropped', 'older than 7 days'),
            (
                'kstore.trades', 'kept',
                'past retention but not yet safe (unmerged or unverified rows)'
            )
    $$,
    'once every row is below the acked horizon the old tickers day is dropped; trades stay guarded'
);

reset role;

select results_eq(
    $$select fingerprint from kstore.tickers order by fingerprint$$,
    $$values (3::bigint)$$,
    'only the rows of the dropped day are gone'
);

select is(
    (select count(*) from kstore.trades),
    2::bigint,
    'trades without an acknowledgement are all kept'
);

select is_empty(
    $$
        select p.partition_name
        from ops.partitions() as p
        inner join ops.table_policies as tp on p.table_name = tp.table_name
        where p.table_name = 'kstore.tickers'::regclass
            and p.range_end <= now() - tp.retain_for
    $$,
    'no tickers partition past retention remains'
);

set local role kstore_maintainer;

select results_eq(
    $$
        select table_name, action
        from ops.maintain()
        where action <> 'compressed'
        order by table_name
    $$,
    $$values ('kstore.trades', 'kept')$$,
    'a second pass drops nothing more (ops.maintain() is repeatable)'
);

reset role;

-- ---------------------------------------------------------------- unmerged rows past retention

-- Shorten tickers retention to one day (rolled back with the test): that day is now past its
-- horizon while its row, of this transaction, is above the acked horizon again.
update ops.table_policies set retain_for = interval '1 day'
where table_name = 'kstore.tickers'::regclass;
update ops.dedup_ack set acked_xid = (select earlier_xid from fixture)
where table_name = 'tickers';

create temp table target as
select p.partition_name::text as partition_name
from ops.partitions() as p
inner join kstore.tickers as t on p.range_start <= t.ts and p.range_end > t.ts
where p.table_name = 'kstore.tickers'::regclass and t.fingerprint = 3;

select results_eq(
    $$
        select m.action
        from ops.maintain() as m
        inner join target as t on m.object_name = t.partition_name
    $$,
    $$values ('kept')$$,
    'an unmerged row keeps its day past retention, compressed or not'
);

select is(
    (
        select count(*) from kstore.tickers
        where fingerprint = 3
    ),
    1::bigint,
    'the unmerged row is still there'
);

select * from finish();  -- noqa: AM04
rollback;
