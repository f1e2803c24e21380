-- Tables of the production database: exactly the declared tables (the time-series and the
-- reference tables it shares with the gatherers: timeseries/, reference/), and its own, every
-- column with its exact type, nullability and default: merged_at on the time-series tables
-- (when a row reached production), the merged feed gaps, the append-only history of
-- series/events/markets, and the ops tables of deduplication (cursors are transaction-id
-- horizons of the gatherer) and export, with the check constraints that keep export windows
-- valid.

begin;
select plan(12);

-- ---------------------------------------------------------------- the set of tables

select set_eq(
    $$select * from tap.tables_in('kstore')$$,
    array[
        'trades', 'orderbook_deltas', 'orderbook_snapshots', 'tickers', 'feed_gaps',
        'series', 'events', 'markets', 'series_history', 'events_history', 'markets_history'
    ],
    'kstore holds exactly the production tables (partitions aside)'
);

select set_eq(
    $$select * from tap.tables_in('ops')$$,
    array[
        'storage', 'timeseries', 'table_policies', 'schema_migrations', 'dedup_cursors',
        'export_manifest', 'export_cursors', 'database', 'tables', 'reconciliation',
        'reconciliation_runs'
    ],
    'ops holds exactly the control tables of production'
);

-- ---------------------------------------------------------------- columns

select results_eq(
    $$
        select t.table_name::text, c.*
        from ops.timeseries as t
        cross join lateral tap.columns_of(t.table_name) as c
        where c.column_name = 'merged_at'
        order by 1
    $$,
    $$
        values
            (
                'kstore.orderbook_deltas', 'merged_at', 'timestamp with time zone', true,
                'now()'
            ),
            (
                'kstore.orderbook_snapshots', 'merged_at', 'timestamp with time zone', true,
                'now()'
            ),
            ('kstore.tickers', 'merged_at', 'timestamp with time zone', true, 'now()'),
            ('kstore.trades', 'merged_at', 'timestamp with time zone', true, 'now()')
    $$,
    'every time-series table has merged_at timestamptz not null default now()'
);

insert into kstore.trades (
    trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id, received_at
)
values (
    'e0000000-0000-0000-0000-000000000001', now() - interval '1 hour', 'KXTEST-1', 0.42, 0.58, 1,
    'g1', now() - interval '90 seconds'
);

select results_eq(
    $$
        select merged_at, merged_at - received_at
        from kstore.trades
        where trade_id = 'e0000000-0000-0000-0000-000000000001'
    $$,
    $$select now(), interval '90 seconds'$$,
    'merged_at defaults to the merging transaction''s time: lag is merged_at - received_at'
);

select results_eq(
    $$select * from tap.columns_of('kstore.feed_gaps')$$,
    $$
        values
            ('gatherer_id', 'text', true, null),
            ('gap_id', 'bigint', true, null),
            ('connection_id', 'text', true, null),
            ('sid', 'integer', true, null),
            ('channel', 'text', false, null),
            ('expected_seq', 'bigint', false, null),
            ('received_seq', 'bigint', false, null),
            ('detected_at', 'timestamp with time zone', true, null),
            ('recovered_at', 'timestamp with time zone', false, null),
            ('recovery', 'text', false, null),
            ('cause', 'text', true, '''seq_jump''::text'),
            ('market_ticker', 'text', false, null),
            ('last_frame_at', 'timestamp with time zone', false, null),
            ('resumed_at', 'timestamp with time zone', false, null),
            ('xact_id', 'xid8', true, 'pg_current_xact_id()')
    $$,
    'kstore.feed_gaps: columns as merged from the gatherers (gap_id is the gatherer''s)'
);

select results_eq(
    $$select * from tap.columns_of('kstore.series_history')$$,
    $$
        values
            ('series_ticker', 'text', true, null),
            ('content_hash', 'text', true, null),
            ('updated_time', 'timestamp with time zone', false, null),
            ('observed_at', 'timestamp with time zone', true, null),
            ('recorded_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('raw', 'jsonb', true, null),
            ('xact_id', 'xid8', true, 'pg_current_xact_id()')
    $$,
    'kstore.series_history: columns'
);

select results_eq(
    $$select * from tap.columns_of('kstore.events_history')$$,
    $$
        values
            ('event_ticker', 'text', true, null),
            ('content_hash', 'text', true, null),
            ('updated_time', 'timestamp with time zone', false, null),
            ('observed_at', 'timestamp with time zone', true, null),
            ('recorded_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('raw', 'jsonb', true, null),
            ('xact_id', 'xid8', true, 'pg_current_xact_id()')
    $$,
    'kstore.events_history: columns'
);

select results_eq(
    $$select * from tap.columns_of('kstore.markets_history')$$,
    $$
        values
            ('market_ticker', 'text', true, null),
            ('content_hash', 'text', true, null),
            ('updated_time', 'timestamp with time zone', false, null),
            ('observed_at', 'timestamp with time zone', true, null),
            ('recorded_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('raw', 'jsonb', true, null),
            ('xact_id', 'xid8', true, 'pg_current_xact_id()')
    $$,
    'kstore.markets_history: columns'
);

select results_eq(
    $$select * from tap.columns_of('ops.dedup_cursors')$$,
    $$
        values
            ('gatherer_id', 'text', true, null),
            ('table_name', 'text', true, null),
            (
                'watermark', 'timestamp with time zone', true,
                '''-infinity''::timestamp with time zone'
            ),
            ('rows_read', 'bigint', true, '0'),
            ('rows_inserted', 'bigint', true, '0'),
            ('last_pull_at', 'timestamp with time zone', false, null),
            ('last_error', 'text', false, null),
            ('next_xid', 'xid8', true, '''0''::xid8'),
            ('caught_up', 'boolean', true, 'false'),
            ('rows_skipped', 'bigint', true, '0'),
            ('source_stopped_at', 'timestamp with time zone', false, null)
    $$,
    'ops.dedup_cursors: columns'
);

select results_eq(
    $$select * from tap.columns_of('ops.export_manifest')$$,
    $$
        values
            ('table_name', 'text', true, null),
            ('window_start', 'timestamp with time zone', true, null),
            ('window_end', 'timestamp with time zone', true, null),
            ('row_count', 'bigint', true, null),
            ('byte_count', 'bigint', false, null),
            ('object_key', 'text', true, null),
            ('checksum', 'text', false, null),
            ('min_ts', 'timestamp with time zone', false, null),
            ('max_ts', 'timestamp with time zone', false, null),
            ('exported_at', 'timestamp with time zone', true, 'now()'),
            ('verified_at', 'timestamp with time zone', false, null),
            ('layout_version', 'smallint', true, '2'),
            ('scrubbed_at', 'timestamp with time zone', false, null),
            ('damage', 'text', false, null),
            ('damaged_at', 'timestamp with time zone', false, null)
    $$,
    'ops.export_manifest: columns'
);

-- ---------------------------------------------------------------- valid export windows only

select throws_ok(
    $$
        insert into ops.export_manifest (
            table_name, window_start, window_end, row_count, object_key
        )
        values ('trades', '2030-01-02', '2030-01-01', 0, 'raw/trades/x.parquet')
    $$,
    '23514', null,
    'an export window ends after it starts'
);

select throws_ok(
    $$
        insert into ops.export_manifest (
            table_name, window_start, window_end, row_count, object_key
        )
        values ('trades', '2030-01-01', '2030-01-02', -1, 'raw/trades/x.parquet')
    $$,
    '23514', null,
    'an export row count is never negative'
);

select * from finish();  -- noqa: AM04
rollback;
