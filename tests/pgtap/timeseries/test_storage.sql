-- Storage path consistency (DESIGN §4) of every time-series database, a gatherer's and
-- production: the path recorded in ops.storage matches the server, ops.timeseries registers the
-- four time-series tables, and they are stored the way that path promises. Plain PostgreSQL:
-- range-partitioned by UTC day on their time column, a default partition, day partitions
-- premade from yesterday on, rows of a missing day moved out of the default. TimescaleDB:
-- hypertables on the same column, 1-day chunks, compression segmented by market_ticker, and no
-- blind TimescaleDB retention job. The branch that does not apply is skipped, so the plan is
-- fixed; SQL naming TimescaleDB objects is only ever passed as text, so it parses on both paths.

begin;
select plan(32);

-- ---------------------------------------------------------------- both paths

select ok(
    ops.storage_path() in ('plain', 'timescaledb'),
    'ops.storage_path() names a known storage path'
);
select is(
    ops.storage_path() = 'timescaledb',
    exists (
        select from pg_extension
        where extname = 'timescaledb'
    ),
    'the TimescaleDB path is chosen exactly when the extension is installed'
);
select results_eq(
    $$select count(*) from ops.storage$$,
    $$values (1::bigint)$$,
    'ops.storage holds a single row'
);
select results_eq(
    $$select * from tap.columns_of('ops.storage')$$,
    $$
        values
            ('singleton', 'boolean', true, 'true'),
            ('path', 'text', true, null),
            ('chosen_at', 'timestamp with time zone', true, 'now()')
    $$,
    'ops.storage: columns'
);
select results_eq(
    $$select * from tap.columns_of('ops.timeseries')$$,
    $$
        values
            ('table_name', 'regclass', true, null::text),
            ('time_column', 'name', true, null::text)
    $$,
    'ops.timeseries: columns'
);
select col_is_pk('ops', 'timeseries', array['table_name'], 'ops.timeseries: one row per table');
select results_eq(
    $$
        select table_name::text, time_column::text collate "default"
        from ops.timeseries
        order by table_name::text
    $$,
    $$
        values
            ('kstore.orderbook_deltas', 'ts'),
            ('kstore.orderbook_snapshots', 'captured_at'),
            ('kstore.tickers', 'ts'),
            ('kstore.trades', 'ts')
    $$,
    'ops.timeseries registers the four time-series tables with their time columns'
);
select lives_ok(
    $$select ops.apply_policies()$$,
    'ops.apply_policies() brings storage in line with ops.table_policies'
);
select is(
    ops.apply_policies(),
    0,
    'ops.apply_policies() then finds nothing to change (re-running is a no-op)'
);

-- A trade of a day that has no native partition (20 days ago) and one of today.
insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id)
values
(
    'c0000000-0000-0000-0000-000000000001',
    date_trunc('day', now() - interval '20 days', 'UTC') + interval '12 hours',
    'KXTEST-1', 0.42, 0.58, 1, 'g1'
),
('c0000000-0000-0000-0000-000000000002', now(), 'KXTEST-1', 0.42, 0.58, 1, 'g1');

-- ---------------------------------------------------------------- plain PostgreSQL

select
    case
        when ops.storage_path() = 'plain'
            then collect_tap(
                is_partitioned('kstore', 'trades', 'trades is natively partitioned'),
                is_partitioned(
                    'kstore', 'orderbook_deltas', 'orderbook_deltas is natively partitioned'
                ),
                is_partitioned(
                    'kstore', 'orderbook_snapshots', 'orderbook_snapshots is natively partitioned'
                ),
                is_partitioned('kstore', 'tickers', 'tickers is natively partitioned'),
                results_eq(
                    $$
                        select
                            pt.partrelid::regclass::text,
                            pt.partstrat::text,
                            pt.partnatts::integer,
                            a.attname::text collate "default"
                        from pg_partitioned_table as pt
                        inner join pg_attribute as a
                            on pt.partrelid = a.attrelid and pt.partattrs[0] = a.attnum
                        where pt.partrelid in (select table_name from ops.timeseries)
                        order by 1
                    $$,
                    $$
                        values
                            ('kstore.orderbook_deltas', 'r', 1, 'ts'),
                            ('kstore.orderbook_snapshots', 'r', 1, 'captured_at'),
                            ('kstore.tickers', 'r', 1, 'ts'),
                            ('kstore.trades', 'r', 1, 'ts')
                    $$,
                    'each table is range-partitioned on its time column alone'
                ),
                results_eq(
                    $$
                        select i.inhparent::regclass::text, i.inhrelid::regclass::text
                        from pg_inherits as i
                        inner join pg_class as c on i.inhrelid = c.oid
                        where i.inhparent in (select table_name from ops.timeseries)
                            and pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
                        order by 1
                    $$,
                    $$
                        values
                            ('kstore.orderbook_deltas', 'kstore.orderbook_deltas_default'),
                            ('kstore.orderbook_snapshots', 'kstore.orderbook_snapshots_default'),
                            ('kstore.tickers', 'kstore.tickers_default'),
                            ('kstore.trades', 'kstore.trades_default')
                    $$,
                    'each table has its default partition, so an insert never fails'
                ),
                is_empty(
                    $$
                        select tp.table_name, d.day
                        from ops.table_policies as tp
                        cross join lateral generate_series(
                            (now() at time zone 'UTC')::date - 1,
                            (now() at time zone 'UTC')::date + tp.premake_days,
                            interval '1 day'
                        ) as d (day)
                        where not exists (
                            select from ops.partitions() as p
                            where p.table_name = tp.table_name
                                and p.range_start = d.day at time zone 'UTC'
                        )
                    $$,
                    'day partitions exist from yesterday to premake_days ahead (today included)'
                ),
                is_empty(
                    $$
                        select p.partition_name
                        from ops.partitions() as p
                        inner join pg_class as c on p.partition_name = c.oid
                        inner join pg_class as t on p.table_name = t.oid
                        where p.range_end - p.range_start <> interval '1 day'
                            or date_trunc('day', p.range_start, 'UTC') <> p.range_start
                            or c.relname::text <> t.relname::text || '_p'
                            || to_char(p.range_start at time zone 'UTC', 'YYYYMMDD')
                    $$,
                    'every time partition spans one UTC day and is named <table>_pYYYYMMDD'
                ),
                is_empty(
                    $$
                        select i.inhrelid::regclass
                        from pg_inherits as i
                        where i.inhparent in (select table_name from ops.timeseries)
                            and not exists (
                                select from pg_index as x
                                where x.indrelid = i.inhrelid and x.indisprimary
                            )
                    $$,
                    'every partition carries the primary key'
                )
            )
        else skip('plain PostgreSQL path only (this database uses TimescaleDB)', 9)
    end;

select
    case
        when ops.storage_path() = 'plain'
            then collect_tap(
                is(
                    (
                        select tableoid::regclass::text from kstore.trades
                        where trade_id = 'c0000000-0000-0000-0000-000000000001'
                    ),
                    'kstore.trades_default',
                    'a row of a day without partition waits in the default partition'
                ),
                ok(
                    ops.partition_day(
                        'kstore.trades', (now() at time zone 'UTC')::date - 20
                    ),
                    'ops.partition_day() creates the missing day partition'
                )
            )
        else skip('plain PostgreSQL path only (this database uses TimescaleDB)', 2)
    end;

select
    case
        when ops.storage_path() = 'plain'
            then collect_tap(
                is(
                    (
                        select tableoid::regclass::text from kstore.trades
                        where trade_id = 'c0000000-0000-0000-0000-000000000001'
                    ),
                    'kstore.trades_p'
                    || to_char((now() at time zone 'UTC')::date - 20, 'YYYYMMDD'),
                    'ops.partition_day() moved the waiting row into its day partition'
                ),
                ok(
                    not ops.partition_day('kstore.trades', (now() at time zone 'UTC')::date - 20),
                    'ops.partition_day() is a no-op for a day that has its partition'
                )
            )
        else skip('plain PostgreSQL path only (this database uses TimescaleDB)', 2)
    end;

-- ---------------------------------------------------------------- TimescaleDB

select
    case
        when ops.storage_path() = 'timescaledb'
            then collect_tap(
                results_eq(
                    $$
                        select
                            format('%I.%I', hypertable_schema, hypertable_name) collate "default",
                            compression_enabled
                        from timescaledb_information.hypertables
                        order by 1
                    $$,
                    $$
                        values
                            ('kstore.orderbook_deltas', true),
                            ('kstore.orderbook_snapshots', true),
                            ('kstore.tickers', true),
                            ('kstore.trades', true)
                    $$,
                    'exactly the four time-series tables are hypertables, compression enabled'
                ),
                results_eq(
                    $$
                        select
                            format('%I.%I', hypertable_schema, hypertable_name) collate "default",
                            column_name::text collate "default",
                            time_interval
                        from timescaledb_information.dimensions
                        order by 1, dimension_number
                    $$,
                    $$
                        values
                            ('kstore.orderbook_deltas', 'ts', interval '1 day'),
                            ('kstore.orderbook_snapshots', 'captured_at', interval '1 day'),
                            ('kstore.tickers', 'ts', interval '1 day'),
                            ('kstore.trades', 'ts', interval '1 day')
                    $$,
                    'each hypertable has one dimension, its time column, in 1-day chunks'
                ),
                is_empty(
                    $$
                        select hypertable::text, segmentby
                        from timescaledb_information.hypertable_compression_settings
                        where segmentby is distinct from 'market_ticker'
                            and not (
                                coalesce(segmentby, '') = ''
                                and ops.database_kind() = 'production'
                                and hypertable::text in (
                                    'kstore.trades', 'kstore.orderbook_deltas'
                                )
                            )
                    $$,
                    'segmented by market_ticker; production''s trades and deltas not at all (0075)'
                ),
                is_empty(
                    $$
                        select tp.table_name
                        from ops.effective_policies as tp
                        left join timescaledb_information.hypertable_compression_settings as s
                            on tp.table_name = s.hypertable
                        where not ops.same_column_list(s.segmentby, tp.compress_segmentby)
                            or not ops.same_column_list(s.orderby, tp.compress_orderby)
                    $$,
                    'compression settings match the policies as applied (ops.effective_policies)'
                ),
                is_empty(
                    $$
                        select job_id, proc_name
                        from timescaledb_information.jobs
                        where proc_name in ('policy_retention', 'policy_compression')
                    $$,
                    'no blind TimescaleDB retention or compression job: ops.maintain() guards them'
                ),
                is_empty(
                    $$select partrelid::regclass from pg_partitioned_table$$,
                    'no table is natively partitioned'
                ),
                is_empty(
                    $$
                        select c.oid::regclass
                        from pg_class as c
                        where c.relnamespace = 'kstore'::regnamespace
                            and c.relname like '%\_default'
                    $$,
                    'no default partitions exist'
                ),
                results_eq(
                    $$
                        select p.range_start, p.range_end
                        from ops.partitions() as p
                        inner join kstore.trades as t
                            on t.ts >= p.range_start and t.ts < p.range_end
                        where p.table_name = 'kstore.trades'::regclass
                            and t.trade_id = 'c0000000-0000-0000-0000-000000000001'
                    $$,
                    $$
                        select
                            date_trunc('day', now() - interval '20 days', 'UTC'),
                            date_trunc('day', now() - interval '19 days', 'UTC')
                    $$,
                    'a row of any day lands in a 1-day chunk aligned to UTC midnight'
                )
            )
        else skip('TimescaleDB path only (this database uses plain PostgreSQL)', 8)
    end;

-- ---------------------------------------------------------------- both paths, with rows

select is_empty(
    $$
        select t.trade_id
        from kstore.trades as t
        where not exists (
            select from ops.partitions() as p
            where p.table_name = 'kstore.trades'::regclass
                and t.ts >= p.range_start and t.ts < p.range_end
        )
    $$,
    'every row lies in a time partition that ops.partitions() lists'
);

select is_empty(
    $$
        select p.partition_name
        from ops.partitions() as p
        where p.partition_name::text like '%\_default'
            or p.range_start is null or p.range_end <= p.range_start
    $$,
    'ops.partitions() lists time partitions only (never a default partition)'
);

select * from finish();  -- noqa: AM04
rollback;
