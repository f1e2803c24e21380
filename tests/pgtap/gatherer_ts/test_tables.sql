-- Tables of a gatherer's time-series database: exactly the declared tables (the four time-series
-- tables: timeseries/test_tables.sql, without production's merged_at), and the gatherer's own,
-- every column with its exact type, nullability and default: feed_gaps and quarantine keyed by
-- generated identities, ops.dedup_ack, the deduplicator's acknowledgements (acked_xid, the
-- transaction horizon below which every row is merged; acked_through, for display), and
-- ops.capture_runs, the gatherer process's runs (started, stopped, by which transaction), and
-- ops.journal_checkpoints, the raw journal's watermark.

begin;
select plan(9);

-- ---------------------------------------------------------------- the set of tables

select set_eq(
    $$select * from tap.tables_in('kstore')$$,
    array[
        'trades', 'orderbook_deltas', 'orderbook_snapshots', 'tickers', 'feed_gaps', 'quarantine'
    ],
    'kstore holds exactly the gatherer tables (partitions aside)'
);

select set_eq(
    $$select * from tap.tables_in('ops')$$,
    array[
        'storage', 'timeseries', 'table_policies', 'schema_migrations', 'dedup_ack',
        'capture_runs', 'database', 'tables', 'journal_checkpoints'
    ],
    'ops holds exactly the control tables of a time-series database'
);

-- ---------------------------------------------------------------- columns

select results_eq(
    $$select * from tap.columns_of('kstore.feed_gaps')$$,
    $$
        values
            ('gap_id', 'bigint', true, null),
            ('gatherer_id', 'text', true, null),
            ('connection_id', 'text', true, null),
            ('sid', 'integer', true, null),
            ('channel', 'text', false, null),
            ('expected_seq', 'bigint', false, null),
            ('received_seq', 'bigint', false, null),
            ('detected_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('recovered_at', 'timestamp with time zone', false, null),
            ('recovery', 'text', false, null),
            ('cause', 'text', true, '''seq_jump''::text'),
            ('market_ticker', 'text', false, null),
            ('last_frame_at', 'timestamp with time zone', false, null),
            ('resumed_at', 'timestamp with time zone', false, null)
    $$,
    'kstore.feed_gaps: columns, exact types, not-null and defaults'
);

select results_eq(
    $$select * from tap.columns_of('kstore.quarantine')$$,
    $$
        values
            ('quarantine_id', 'bigint', true, null),
            ('gatherer_id', 'text', true, null),
            ('connection_id', 'text', false, null),
            ('received_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('reason', 'text', true, null),
            ('raw', 'bytea', true, null)
    $$,
    'kstore.quarantine: columns, exact types, not-null and defaults (raw bytes kept)'
);

select results_eq(
    $$
        select a.attidentity::text
        from pg_attribute as a
        where (a.attrelid, a.attname) in (
            ('kstore.feed_gaps'::regclass, 'gap_id'),
            ('kstore.quarantine'::regclass, 'quarantine_id')
        )
        order by a.attrelid::regclass::text
    $$,
    $$values ('a'), ('a')$$,
    'feed_gaps.gap_id and quarantine.quarantine_id are generated always as identity'
);

select results_eq(
    $$select * from tap.columns_of('ops.dedup_ack')$$,
    $$
        values
            ('table_name', 'text', true, null),
            ('acked_through', 'timestamp with time zone', true, null),
            ('acked_at', 'timestamp with time zone', true, 'now()'),
            ('acked_xid', 'xid8', false, null)
    $$,
    'ops.dedup_ack: columns'
);

select results_eq(
    $$select * from tap.columns_of('ops.capture_runs')$$,
    $$
        values
            ('run_id', 'bigint', true, null),
            ('started_at', 'timestamp with time zone', true, 'now()'),
            ('stopped_at', 'timestamp with time zone', false, null),
            ('stopped_xid', 'xid8', false, null)
    $$,
    'ops.capture_runs: columns'
);

select results_eq(
    $$select * from tap.columns_of('ops.journal_checkpoints')$$,
    $$
        values
            ('gatherer_id', 'text', true, null),
            ('journal_id', 'text', true, null),
            ('seq', 'bigint', true, null),
            ('received_at', 'timestamp with time zone', false, null),
            ('state', 'jsonb', true, '''{}''::jsonb'),
            ('checkpointed_at', 'timestamp with time zone', true, 'now()')
    $$,
    'ops.journal_checkpoints: columns'
);

select is_empty(
    $$
        select a.attrelid::regclass
        from pg_attribute as a
        where a.attname = 'merged_at'
            and a.attrelid in (select table_name from ops.timeseries)
    $$,
    'the time-series tables have no merged_at here: rows reach production, not a gatherer'
);

select * from finish();  -- noqa: AM04
rollback;
