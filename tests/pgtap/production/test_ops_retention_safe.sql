-- Guarded retention in production (DESIGN §4, sql/production/ops_retention_safe.sql): through
-- ops.maintain(), a partition past its retention horizon is dropped only when verified lake
-- windows (ops.export_manifest) cover its whole range without holes and hold exactly as many
-- rows as it does now; otherwise it is kept and reported. Tables kept forever are never
-- dropped. Run as kstore_maintainer; what ops.maintain() does on every tier:
-- timeseries/test_ops_maintain.sql.

begin;
select plan(20);
set local client_min_messages = warning;

-- tickers (retain 30 days): two rows of the day 40 days ago (08:00 and 20:00 UTC) and one
-- recent row; trades (kept forever): one row 400 days ago.
create temp table fixture as
select date_trunc('day', now() - interval '40 days', 'UTC') as day_start;

insert into kstore.tickers (market_ticker, ts, fingerprint, gatherer_id)
select
    'KXTEST-1' as market_ticker,
    f.day_start + r.time_of_day as ts,
    r.fingerprint,
    'g1' as gatherer_id
from fixture as f
cross join (
    values (interval '8 hours', 1), (interval '20 hours', 2)
) as r (time_of_day, fingerprint);

insert into kstore.tickers (market_ticker, ts, fingerprint, gatherer_id)
values ('KXTEST-1', now() - interval '3 days', 3, 'g1');

insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id)
values (
    'f0000000-0000-0000-0000-000000000001', now() - interval '400 days', 'KXTEST-1', 0.42, 0.58,
    1, 'g1'
);

-- The retention outcome of the old tickers day under the current manifest, as the maintainer.
create function pg_temp.tickers_retention()
returns table (table_name text, action text)
language sql as $$
    select m.table_name, m.action
    from ops.maintain() as m
    where m.action in ('kept', 'dropped')
    order by m.table_name, m.action
$$;

create function pg_temp.record_window(
    window_from interval, window_to interval, rows_in_window bigint, verified boolean
)
returns void
language sql as $$
    insert into ops.export_manifest (
        table_name, window_start, window_end, row_count, object_key, verified_at
    )
    select
        'tickers', f.day_start + window_from, f.day_start + window_to, rows_in_window,
        'raw/tickers/' || window_from::text || '.parquet',
        case when verified then now() end
    from fixture as f
$$;

-- ---------------------------------------------------------------- not safe: kept

set local role kstore_maintainer;
select results_eq(
    $$select * from pg_temp.tickers_retention()$$,
    $$values ('kstore.tickers', 'kept')$$,
    'with no exported window, the tickers day past retention is kept'
);
reset role;

select pg_temp.record_window('0 hours', '24 hours', 1, true);
set local role kstore_maintainer;
select results_eq(
    $$select * from pg_temp.tickers_retention()$$,
    $$values ('kstore.tickers', 'kept')$$,
    'a verified window holding fewer rows than the partition has now (late rows) keeps it'
);
reset role;
delete from ops.export_manifest;

select pg_temp.record_window('0 hours', '24 hours', 2, false);
set local role kstore_maintainer;
select results_eq(
    $$select * from pg_temp.tickers_retention()$$,
    $$values ('kstore.tickers', 'kept')$$,
    'an exported but unverified window keeps it'
);
reset role;
delete from ops.export_manifest;

select pg_temp.record_window('-1 hour', '24 hours', 2, true);
set local role kstore_maintainer;
select results_eq(
    $$select * from pg_temp.tickers_retention()$$,
    $$values ('kstore.tickers', 'kept')$$,
    'a window reaching beyond the partition (its count is not the partition''s) keeps it'
);
reset role;
delete from ops.export_manifest;

select pg_temp.record_window('0 hours', '12 hours', 1, true);
set local role kstore_maintainer;
select results_eq(
    $$select * from pg_temp.tickers_retention()$$,
    $$values ('kstore.tickers', 'kept')$$,
    'verified windows covering only part of the day keep it'
);
reset role;

select is(
    (select count(*) from kstore.tickers),
    3::bigint,
    'no ticker was dropped while the day was not safe'
);

-- Two overlapping verified windows [00h, 12h) and [06h, 18h), honestly counted (the 08:00 row
-- lies in both): their lengths add up to a day and their counts to the partition's, yet the
-- 20:00 row was never exported: coverage must be checked, not summed.
select pg_temp.record_window('6 hours', '18 hours', 1, true);
select ok(
    not ops.retention_safe(
        'kstore.tickers',
        (
            select p.partition_name from ops.partitions() as p, fixture as f
            where p.table_name = 'kstore.tickers'::regclass and p.range_start = f.day_start
        ),
        (select day_start from fixture),
        (select day_start + interval '1 day' from fixture)
    ),
    'overlapping windows that leave a hole do not make a day safe'
);
delete from ops.export_manifest;

-- Verified windows covering the day exactly, but the newest verification of one is older than
-- the table's verified_within (decision 0045): a lake object nobody read for that long is not
-- trusted as the only copy. A scrub finding it whole (ops.lake_check) renews it.
select pg_temp.record_window('0 hours', '12 hours', 1, true);
select pg_temp.record_window('12 hours', '24 hours', 1, true);
update ops.export_manifest set verified_at = now() - interval '8 days'
where window_start = (select day_start from fixture);
set local role kstore_maintainer;
select results_eq(
    $$select * from pg_temp.tickers_retention()$$,
    $$values ('kstore.tickers', 'kept')$$,
    'a window verified longer ago than verified_within (7 days) keeps it'
);
reset role;
update ops.table_policies set verified_within = interval '9 days'
where table_name = 'kstore.tickers'::regclass;
select ok(
    ops.retention_safe(
        'kstore.tickers',
        (
            select p.partition_name from ops.partitions() as p, fixture as f
            where p.table_name = 'kstore.tickers'::regclass and p.range_start = f.day_start
        ),
        (select day_start from fixture),
        (select day_start + interval '1 day' from fixture)
    ),
    'verified_within is per table: 9 days trusts the 8-day-old verification'
);
update ops.table_policies set verified_within = interval '7 days'
where table_name = 'kstore.tickers'::regclass;
update ops.export_manifest set verified_at = now() - interval '8 days'
where window_start = (select day_start from fixture);
set local role kstore_exporter;
select ok(
    ops.lake_check(
        'tickers', date_trunc('day', now() - interval '40 days', 'UTC'), null, null
    ),
    'a scrub that finds the object whole records a new verification'
);
reset role;
select ok(
    (
        select m.verified_at = now() and m.scrubbed_at = now()
        from ops.export_manifest as m
        where m.window_start = (select f.day_start from fixture as f)
    ),
    'verified_at and scrubbed_at are the scrub''s time'
);
set local role kstore_exporter;
select ok(
    ops.lake_check(
        'tickers', date_trunc('day', now() - interval '40 days', 'UTC'), null, 'missing'
    ),
    'a scrub that finds the object missing un-verifies its window'
);
reset role;
select results_eq(
    $$select dataset, status, damaged, verified from ops.lake_health$$,
    $$values ('tickers', 'damaged', 1::bigint, 1::bigint)$$,
    'ops.lake_health: the dataset is damaged'
);
set local role kstore_maintainer;
select results_eq(
    $$select * from pg_temp.tickers_retention()$$,
    $$values ('kstore.tickers', 'kept')$$,
    'a damaged window keeps it'
);
reset role;
select ops.lake_record(
    'tickers', f.day_start, f.day_start + interval '12 hours', 'raw/tickers/0.parquet', 1, 1,
    'sha', null, null, true
) from fixture as f;
select results_eq(
    $$select status, damaged from ops.lake_health$$,
    $$values ('ok', 0::bigint)$$,
    're-exported and verified: no longer damaged'
);
delete from ops.export_manifest;

-- ---------------------------------------------------------------- safe: dropped

select pg_temp.record_window('0 hours', '12 hours', 1, true);
select pg_temp.record_window('12 hours', '24 hours', 1, true);
set local role kstore_maintainer;
select results_eq(
    $$
        select table_name, action, detail
        from ops.maintain()
        where action in ('kept', 'dropped')
    $$,
    $$values ('kstore.tickers', 'dropped', 'older than 30 days')$$,
    'verified windows covering the day exactly, with its row count, let it be dropped'
);
reset role;

select results_eq(
    $$select fingerprint from kstore.tickers order by fingerprint$$,
    $$values (3::bigint)$$,
    'only the rows of the dropped day are gone'
);
select is(
    (select count(*) from kstore.trades),
    1::bigint,
    'trades (kept forever) are never dropped, however old'
);
select is_empty(
    $$
        select p.partition_name
        from ops.partitions() as p, fixture as f
        where p.table_name = 'kstore.tickers'::regclass and p.range_start = f.day_start
    $$,
    'the dropped day is no longer listed by ops.partitions()'
);

set local role kstore_maintainer;
select is_empty(
    $$select * from ops.maintain() where action in ('kept', 'dropped')$$,
    'a second pass has nothing left to drop or keep (ops.maintain() is repeatable)'
);
reset role;

select * from finish();  -- noqa: AM04
rollback;
