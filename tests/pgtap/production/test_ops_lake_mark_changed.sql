-- Changed lake windows in production (decision 0014; sql/production/ops_lake_mark_changed_*.sql,
-- ops_lake_mark_changed_counts.sql, ops_lake_mark_since.sql, ops_lake_reopen.sql), as
-- kstore_exporter. By transaction id: rows that reached a table since the exporter's cursor
-- re-open the verified windows they fall in, rows of older days the manifest never had plan
-- their whole UTC day, rows after the newest window wait for the plan, rows below the cursor
-- change nothing, and the cursor advances with the marks. By count (models without xact_id):
-- windows whose rows differ from the verified count, on either side. A rebuild re-opens every
-- window after what it rebuilt.

begin;
select plan(14);

-- The 24 windows of 2025-01-01, recorded verified.
create function pg_temp.record_trades()
returns void
language sql as $$
    select ops.lake_record(
        'trades', w.start, w.start + interval '1 hour',
        ops.lake_object_key('raw/trades', 'hour', w.start), 1, 1, 'sha', null, null, true
    )
    from generate_series(
        timestamptz '2025-01-01 00:00+00', timestamptz '2025-01-01 23:00+00', interval '1 hour'
    ) as w (start)
$$;

create function pg_temp.add_trade(traded_at timestamptz, xact_id xid8 default pg_current_xact_id())
returns void
language sql as $$
    insert into kstore.trades (
        trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id, xact_id
    )
    values (gen_random_uuid(), traded_at, 'KXTEST-1', 0.42, 0.58, 1, 'g1', xact_id)
$$;

create function pg_temp.mark_trades()
returns integer
language sql as $$
    select ops.lake_mark_changed_rows('trades', 'kstore.trades', 'ts', 'hour', 'raw/trades')
$$;

-- ---------------------------------------------------------------- by transaction id

set local role kstore_exporter;
select is(pg_temp.mark_trades(), 0, 'the first look only sets the cursor');
reset role;
select is(
    (
        select count(*) from ops.export_cursors
        where table_name = 'trades'
    ),
    1::bigint,
    'the cursor is recorded'
);

select pg_temp.record_trades();
select pg_temp.add_trade('2025-01-01 01:10+00', '1');  -- below the cursor: seen before
select pg_temp.add_trade('2025-01-01 02:40+00');  -- a late row of a verified window
select pg_temp.add_trade('2024-12-31 05:00+00');  -- history before the first window
select pg_temp.add_trade('2025-01-02 06:00+00');  -- after the newest window: the plan's

set local role kstore_exporter;
select is(
    pg_temp.mark_trades(),
    1 + 24,
    'the late row''s window re-opens, and the history''s whole day is planned'
);
reset role;
select results_eq(
    $$
        select to_char(window_start at time zone 'UTC', 'YYYY-MM-DD HH24')
        from ops.export_manifest
        where
            table_name = 'trades' and window_start >= '2025-01-01 00:00+00'
            and verified_at is null
    $$,
    $$values ('2025-01-01 02')$$,
    'only the window of the late row lost its verification; later windows are left to the plan'
);
select results_eq(
    $$
        select count(*), min(window_start), max(window_end), bool_and(verified_at is null),
            bool_and(row_count = 0)
        from ops.export_manifest
        where table_name = 'trades' and window_start < '2025-01-01 00:00+00'
    $$,
    $$
        values (
            24::bigint, timestamptz '2024-12-31 00:00+00', timestamptz '2025-01-01 00:00+00',
            true, true
        )
    $$,
    'the history''s day is planned whole, unverified'
);
select ok(
    (
        select next_xid <= pg_current_xact_id() and scanned_at = now()
        from ops.export_cursors
        where table_name = 'trades'
    ),
    'the cursor advanced to a horizon no later than this transaction (in the same transaction)'
);
set local role kstore_exporter;
select is(pg_temp.mark_trades(), 0, 'marks are not counted twice');
reset role;

-- A logical restore into a new server: the cursor is ahead of the server's ids.
update ops.export_cursors set next_xid = '9000000000'
where table_name = 'trades';
set local role kstore_exporter;
select is(
    pg_temp.mark_trades(),
    1,
    'ids that restarted: every row is looked at again (the row of 01:10, once below the cursor)'
);
reset role;
select ok(
    (
        select next_xid <= pg_current_xact_id()
        from ops.export_cursors
        where table_name = 'trades'
    ),
    'the cursor is back at the server''s horizon'
);

-- ---------------------------------------------------------------- by count

create table tap.candles (bucket timestamptz not null, close numeric(10, 6) not null);
grant select on tap.candles to kstore_exporter;
grant usage on schema tap to kstore_exporter;
insert into tap.candles (bucket, close)
select
    d.day + g.i * interval '1 hour' as bucket,
    0.5 as close
from (values (timestamptz '2025-01-01 00:00+00', 2), (timestamptz '2025-01-02 00:00+00', 1))
    as d (day, last_hour)
cross join lateral generate_series(0, d.last_hour) as g (i);
select
    ops.lake_record(
        'tap.candles', d.day, d.day + interval '1 day',
        ops.lake_object_key('tap/candles', 'day', d.day), d.row_count, 1, 'sha', null, null, true
    )
from (
    values
    (timestamptz '2025-01-01 00:00+00', 3),
    (timestamptz '2025-01-02 00:00+00', 2),
    (timestamptz '2025-01-03 00:00+00', 1)
) as d (day, row_count);
insert into tap.candles values ('2025-01-02 05:00+00', 0.25), ('2024-12-31 05:00+00', 0.25);

set local role kstore_exporter;
select is(
    ops.lake_mark_changed_counts('tap.candles', 'tap.candles', 'bucket', 'day', 'tap/candles'),
    3,
    'a window with more rows, one with none left, and an older day never exported'
);
reset role;
select results_eq(
    $$
        select to_char(window_start at time zone 'UTC', 'YYYY-MM-DD'), verified_at is null
        from ops.export_manifest
        where table_name = 'tap.candles'
        order by window_start
    $$,
    $$
        values
            ('2024-12-31', true), ('2025-01-01', false), ('2025-01-02', true),
            ('2025-01-03', true)
    $$,
    'the window with equal counts stays verified'
);

-- ---------------------------------------------------------------- a rebuild

set local role kstore_exporter;
select is(
    ops.lake_mark_since('tap.candles', '2025-01-01 12:00+00'),
    1,
    'a rebuild re-opens every verified window ending after what it rebuilt'
);
select is(ops.lake_mark_since('tap.candles', '2025-01-01 12:00+00'), 0, 'once');
reset role;
select is(
    (
        select count(*) from ops.export_manifest
        where verified_at is not null
    ),
    22::bigint,
    'the verified windows of other datasets are untouched (trades: 24, less the late row''s '
    || 'and the one re-looked at after the restart)'
);

select * from finish();  -- noqa: AM04
rollback;
