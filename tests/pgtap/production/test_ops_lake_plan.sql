-- The lake's window plan in production (decision 0014; sql/production/ops_lake_plan.sql,
-- ops_lake_step.sql, ops_lake_object_key.sql, ops_lake_stats.sql, ops_lake_record.sql), as
-- kstore_exporter: the functions and their signatures; one object key per window; the first
-- plan starts at the UTC day of the oldest row and ends at the close; known windows are kept
-- and only unverified ones are returned, with the rows last recorded; a snapshot dataset is
-- only its newest closed day; production's counts per window are what a verified object holds.

begin;
select plan(23);

select results_eq(
    $$
        select p.proname::text collate "default", pg_get_function_arguments(p.oid),
            pg_get_function_result(p.oid)
        from pg_proc as p
        where p.pronamespace = 'ops'::regnamespace and p.proname like 'lake\_%'
        order by p.proname
    $$,
    $$
        values
            (
                'lake_check',
                'dataset text, window_start timestamp with time zone, checksum text, problem text',
                'boolean'
            ),
            ('lake_clear_damage', '', 'trigger'),
            (
                'lake_close', 'table_name text, close_after interval, dead_after interval',
                'TABLE(closed_until timestamp with time zone, final boolean)'
            ),
            (
                'lake_closed_until',
                'dataset text, grain text, close_after interval, dead_after interval',
                'timestamp with time zone'
            ),
            (
                'lake_damaged', 'dataset text, window_start timestamp with time zone, reason text',
                'void'
            ),
            (
                'lake_final_close', 'close_after interval, dead_after interval',
                'timestamp with time zone'
            ),
            (
                'lake_guarded_windows', '',
                'TABLE(table_name text, window_start timestamp with time zone, verified_within '
                || 'interval)'
            ),
            ('lake_health_summary', '', 'text'),
            (
                'lake_mark_changed_counts',
                'dataset text, relation regclass, time_column name, grain text, prefix text',
                'integer'
            ),
            (
                'lake_mark_changed_rows',
                'dataset text, relation regclass, time_column name, grain text, prefix text',
                'integer'
            ),
            ('lake_mark_since', 'dataset text, since timestamp with time zone', 'integer'),
            (
                'lake_object_key', 'prefix text, grain text, window_start timestamp with time zone',
                'text'
            ),
            (
                'lake_oldest_day', 'relation regclass, time_column name',
                'timestamp with time zone'
            ),
            (
                'lake_plan',
                'dataset text, relation regclass, time_column name, grain text, prefix text, '
                || 'closed_until timestamp with time zone',
                'TABLE(window_start timestamp with time zone, window_end timestamp with time '
                || 'zone, object_key text, row_count bigint)'
            ),
            (
                'lake_plan_snapshot',
                'dataset text, relation regclass, time_column name, prefix text, '
                || 'closed_until timestamp with time zone',
                'TABLE(window_start timestamp with time zone, window_end timestamp with time '
                || 'zone, object_key text, row_count bigint)'
            ),
            (
                'lake_record',
                'dataset text, window_start timestamp with time zone, window_end timestamp '
                || 'with time zone, object_key text, row_count bigint, byte_count bigint, '
                || 'checksum text, min_ts timestamp with time zone, max_ts timestamp with time '
                || 'zone, verified boolean',
                'void'
            ),
            (
                'lake_reopen',
                'dataset text, grain text, prefix text, touched timestamp with time zone[], '
                || 'frontier timestamp with time zone',
                'integer'
            ),
            (
                'lake_scrub_plan',
                'dataset text, since timestamp with time zone, verified_before timestamp with '
                || 'time zone, max_windows integer',
                'TABLE(table_name text, window_start timestamp with time zone, object_key text, '
                || 'row_count bigint, byte_count bigint, checksum text)'
            ),
            (
                'lake_stats',
                'relation regclass, time_column name, grain text, low timestamp with time zone, '
                || 'high timestamp with time zone',
                'TABLE(window_start timestamp with time zone, row_count bigint, min_ts timestamp '
                || 'with time zone, max_ts timestamp with time zone)'
            ),
            ('lake_step', 'grain text', 'interval')
    $$,
    'the lake''s functions with their signatures'
);

-- ---------------------------------------------------------------- grid and keys

select results_eq(
    $$select ops.lake_step(g) from unnest(array['hour', 'day', 'snapshot']) as g$$,
    $$values (interval '1 hour'), (interval '24 hours'), (interval '24 hours')$$,
    'an hour, or 24 hours (a UTC day whatever the session''s zone) per window'
);
select throws_ok(
    $$select ops.lake_step('week')$$,
    'P0001', 'lake grain week: one of hour, day, snapshot',
    'an unknown grain is refused'
);
select results_eq(
    $$
        select ops.lake_object_key(k.prefix, k.grain, timestamptz '2025-01-01 03:00+00')
        from (
            values
                ('raw/trades', 'hour'),
                ('raw/orderbook_snapshots', 'day'),
                ('raw/markets/', 'snapshot'),
                ('aggregates/agg_candles_1m', 'day')
        ) as k (prefix, grain)
    $$,
    $$
        values
            ('raw/trades/dt=2025-01-01/hour=3/trades-2025-01-01T03.parquet'),
            ('raw/orderbook_snapshots/dt=2025-01-01/orderbook_snapshots-2025-01-01.parquet'),
            ('raw/markets/dt=2025-01-01/markets-2025-01-01.parquet'),
            ('aggregates/agg_candles_1m/dt=2025-01-01/agg_candles_1m-2025-01-01.parquet')
    $$,
    'one deterministic object key per window, folders by UTC date (dt) and unpadded hour (layout 2)'
);

-- ---------------------------------------------------------------- time-series windows

insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id)
select
    gen_random_uuid() as trade_id,
    timestamptz '2025-01-01 00:00+00' + t.since_midnight as ts,
    'KXTEST-1' as market_ticker,
    0.42 as yes_price,
    0.58 as no_price,
    1 as count,
    'g1' as gatherer_id
from (values (interval '1:10'), (interval '2:20'), (interval '2:30')) as t (since_midnight);

-- The oldest day, read as little as possible (the rows of 2025-01-01 are in the default
-- partition on the plain path, in a chunk on TimescaleDB; tomorrow is a day partition or chunk).
select is(
    ops.lake_oldest_day('kstore.tickers', 'ts'), null, 'no rows: no oldest day'
);
insert into kstore.tickers (market_ticker, ts, fingerprint, gatherer_id)
values (
    'KXTEST-1', date_trunc('day', now() at time zone 'UTC') + interval '1 day 5 hours', 1, 'g1'
);
select is(
    ops.lake_oldest_day('kstore.tickers', 'ts') at time zone 'UTC',
    date_trunc('day', now() at time zone 'UTC') + interval '1 day',
    'a row in a day partition: that UTC day'
);
select is(
    ops.lake_oldest_day('kstore.trades', 'ts'), timestamptz '2025-01-01 00:00+00',
    'rows outside the day partitions count too'
);
insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id)
values (gen_random_uuid(), now() + interval '1 day', 'KXTEST-1', 0.42, 0.58, 1, 'g1');
select is(
    ops.lake_oldest_day('kstore.trades', 'ts'), timestamptz '2025-01-01 00:00+00',
    'a newer partition''s row does not hide older rows'
);
delete from kstore.trades
where ts > '2025-01-02';

-- The trades' plan as the exporter, closed until `hour` o'clock on 2025-01-01.
create function pg_temp.trades_plan(hour integer)
returns table (window_start text, object_key text, row_count bigint)
language sql as $$
    select to_char(p.window_start at time zone 'UTC', 'HH24'), p.object_key, p.row_count
    from ops.lake_plan(
        'trades', 'kstore.trades', 'ts', 'hour', 'raw/trades',
        timestamptz '2025-01-01 00:00+00' + hour * interval '1 hour'
    ) as p
$$;

set local role kstore_exporter;
select results_eq(
    $$select * from pg_temp.trades_plan(3)$$,
    $$
        values
            ('00', 'raw/trades/dt=2025-01-01/hour=0/trades-2025-01-01T00.parquet', 0::bigint),
            ('01', 'raw/trades/dt=2025-01-01/hour=1/trades-2025-01-01T01.parquet', 0::bigint),
            ('02', 'raw/trades/dt=2025-01-01/hour=2/trades-2025-01-01T02.parquet', 0::bigint)
    $$,
    'the first plan: every hour from the UTC midnight before the oldest row up to the close'
);
select results_eq(
    $$select window_start from pg_temp.trades_plan(5)$$,
    $$values ('00'), ('01'), ('02'), ('03'), ('04')$$,
    'a later close adds the windows after the newest known one'
);
select is(
    (
        select count(*) from ops.export_manifest
        where table_name = 'trades' and verified_at is null and row_count = 0
    ),
    5::bigint,
    'planned windows are recorded unverified, without rows'
);
select results_eq(
    $$
        select to_char(s.window_start at time zone 'UTC', 'HH24'), s.row_count,
            s.min_ts - s.window_start, s.max_ts - s.window_start
        from ops.lake_stats(
            'kstore.trades', 'ts', 'hour', '2025-01-01 00:00+00', '2025-01-01 03:00+00'
        ) as s
        order by s.window_start
    $$,
    $$
        values
            ('01', 1::bigint, interval '10 minutes', interval '10 minutes'),
            ('02', 2::bigint, interval '20 minutes', interval '30 minutes')
    $$,
    'production''s rows and time range per window (windows without rows absent)'
);

-- Windows 00 and 02 verified; 01, 03 and 04 attempted (one row each) and not verified.
select
    ops.lake_record(
        'trades', p.window_start, p.window_end, p.object_key, 1, 100, 'sha', null, null,
        p.window_start in ('2025-01-01 00:00+00', '2025-01-01 02:00+00')
    )
from ops.lake_plan(
    'trades', 'kstore.trades', 'ts', 'hour', 'raw/trades', '2025-01-01 05:00+00'
) as p;
select results_eq(
    $$select window_start, row_count from pg_temp.trades_plan(5)$$,
    $$values ('01', 1::bigint), ('03', 1::bigint), ('04', 1::bigint)$$,
    'verified windows are done; the others come back with the rows last recorded'
);
select is(
    (
        select count(*) from ops.export_manifest
        where
            table_name = 'trades' and verified_at is not null and exported_at is not null
            and byte_count = 100 and checksum = 'sha'
    ),
    2::bigint,
    'a recorded window is verified only when its object matched'
);
select results_eq(
    $$select window_start from pg_temp.trades_plan(2)$$,
    $$values ('01')$$,
    'windows ending after the close are not returned'
);

select results_eq(
    $$
        select p.object_key
        from ops.lake_plan(
            'tap.trades_daily', 'kstore.trades', 'ts', 'day', 'tap/trades_daily',
            '2025-01-02 12:00+00'
        ) as p
    $$,
    $$values ('tap/trades_daily/dt=2025-01-01/trades_daily-2025-01-01.parquet')$$,
    'daily windows end at UTC midnight; the day holding the close is still open'
);
select is_empty(
    $$
        select * from ops.lake_plan(
            'tap.empty', 'kstore.tickers', 'ts', 'hour', 'tap/empty', '2025-01-02 00:00+00'
        )
    $$,
    'an empty relation has nothing to plan'
);
reset role;

-- ---------------------------------------------------------------- snapshots

insert into kstore.series (series_ticker, title, raw) values ('KXM', 'A series', '{}');

set local role kstore_exporter;
select is_empty(
    $$
        select * from ops.lake_plan(
            'series', 'kstore.series', 'changed_at', 'snapshot', 'raw/series',
            '2025-01-02 00:30+00'
        )
    $$,
    'no snapshot of a day that ended before production knew any row (decision 0046)'
);
reset role;
update kstore.series_history set recorded_at = '2024-12-31 12:00+00';  -- known since then

set local role kstore_exporter;
select results_eq(
    $$
        select p.window_start, p.window_end, p.object_key
        from ops.lake_plan(
            'series', 'kstore.series', 'changed_at', 'snapshot', 'raw/series',
            '2025-01-02 00:30+00'
        ) as p
    $$,
    $$
        values (
            timestamptz '2025-01-01 00:00+00', timestamptz '2025-01-02 00:00+00',
            'raw/series/dt=2025-01-01/series-2025-01-01.parquet'
        )
    $$,
    'a snapshot: the newest closed UTC day'
);
select results_eq(
    $$
        select s.window_start, s.row_count, s.min_ts = s.max_ts
        from ops.lake_stats(
            'kstore.series', 'changed_at', 'snapshot', '2025-01-01 00:00+00',
            '2025-01-02 00:00+00'
        ) as s
    $$,
    $$values (timestamptz '2025-01-01 00:00+00', 1::bigint, true)$$,
    'a snapshot''s count is the whole relation, as its window'
);
select ops.lake_record(
    'series', '2025-01-01 00:00+00', '2025-01-02 00:00+00', 'raw/series/x.parquet', 1, 10,
    'sha', null, null, true
);
select ops.lake_record(
    'series', '2024-12-30 00:00+00', '2024-12-31 00:00+00', 'raw/series/y.parquet', 0, null,
    null, null, null, false
);
select results_eq(
    $$
        select p.window_start
        from (
            values (timestamptz '2025-01-02 23:00+00'), (timestamptz '2025-01-03 00:30+00')
        ) as g (closed)
        cross join lateral ops.lake_plan(
            'series', 'kstore.series', 'changed_at', 'snapshot', 'raw/series', g.closed
        ) as p
    $$,
    $$values (timestamptz '2025-01-02 00:00+00')$$,
    'a verified day is done, an older unverified day is never redone, the next day comes'
);
select results_eq(
    $$
        update ops.export_manifest set layout_version = 1
        where table_name = 'series' and window_start = '2025-01-01 00:00+00'
        returning layout_version
    $$,
    $$values (1::smallint)$$,
    'a layout 1 record (an object written before V0035)'
);
select ops.lake_record(
    'series', '2025-01-01 00:00+00', '2025-01-02 00:00+00', 'raw/series/x.parquet', 1, 10,
    'sha', null, null, true
);
select results_eq(
    $$select m.layout_version from ops.export_manifest as m where m.table_name = 'series'$$,
    $$values (2::smallint), (2::smallint)$$,
    'every record is stamped with the current lake layout (2), a re-export included'
);
reset role;

select * from finish();  -- noqa: AM04
rollback;
