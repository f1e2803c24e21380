-- Roles of the production database (DESIGN §7): the deduplicator inserts merged rows (the four
-- time-series tables: timeseries/test_writer.sql), merges feed gaps, upserts reference rows
-- (history is append-only) and moves its cursors; the exporter reads everything and writes the
-- export manifest; the analyst only reads (read-only transactions at login); the maintainer
-- reads the cursors and the manifest and runs ops.maintain() (timeseries/test_ops_maintain.sql).
-- None is a superuser; nobody but the migration owner changes the schema.
-- default_transaction_read_only applies at login, so under `set role` the analyst's refusals
-- come from its privileges.

begin;
select plan(43);

-- ---------------------------------------------------------------- the roles themselves

select results_eq(
    $$
        select * from tap.role_attributes(
            array['kstore_dedup', 'kstore_exporter', 'kstore_analyst', 'kstore_maintainer']
        )
    $$,
    $$
        values
            ('kstore_analyst', true, false, false, false, false, false),
            ('kstore_dedup', true, false, false, false, false, false),
            ('kstore_exporter', true, false, false, false, false, false),
            ('kstore_maintainer', true, false, false, false, false, false)
    $$,
    'the four production roles exist, can log in and hold no elevated attribute'
);

select set_eq(
    $$select * from tap.role_settings(array['kstore_dedup', 'kstore_exporter', 'kstore_analyst'])$$,
    $$
        values
            ('kstore_dedup', 'statement_timeout=5min'),
            ('kstore_exporter', 'statement_timeout=30min'),
            ('kstore_analyst', 'default_transaction_read_only=on'),
            ('kstore_analyst', 'statement_timeout=15min')
    $$,
    'bounded statement timeouts; the analyst logs in read-only'
);

select is_empty(
    $$
        select * from tap.memberships(
            array['kstore_dedup', 'kstore_exporter', 'kstore_analyst', 'kstore_maintainer']
        )
    $$,
    'no production role inherits privileges through role membership'
);

-- ---------------------------------------------------------------- granted privileges

select results_eq(
    $$select * from tap.table_privileges('kstore_dedup')$$,
    $$
        values
            ('kstore.events', 'INSERT,SELECT,UPDATE'),
            ('kstore.events_history', 'INSERT,SELECT'),
            ('kstore.feed_gaps', 'INSERT,SELECT,UPDATE'),
            ('kstore.markets', 'INSERT,SELECT,UPDATE'),
            ('kstore.markets_history', 'INSERT,SELECT'),
            ('kstore.orderbook_deltas', 'INSERT,SELECT'),
            ('kstore.orderbook_snapshots', 'INSERT,SELECT'),
            ('kstore.series', 'INSERT,SELECT,UPDATE'),
            ('kstore.series_history', 'INSERT,SELECT'),
            ('kstore.tickers', 'INSERT,SELECT'),
            ('kstore.trades', 'INSERT,SELECT'),
            ('ops.dedup_cursors', 'INSERT,SELECT,UPDATE'),
            ('ops.reconciliation', 'DELETE,INSERT,SELECT,UPDATE'),
            ('ops.reconciliation_runs', 'INSERT,SELECT,UPDATE'),
            ('ops.reconciliation_summary', 'SELECT')
    $$,
    'dedup: inserts merged rows, updates mutable rows only, owns its cursors and, for '
    'kstore reconcile, its report'
);

select results_eq(
    $$select * from tap.table_privileges('kstore_exporter')$$,
    $$
        values
            ('kstore.events', 'SELECT'),
            ('kstore.events_history', 'SELECT'),
            ('kstore.feed_gaps', 'SELECT'),
            ('kstore.markets', 'SELECT'),
            ('kstore.markets_history', 'SELECT'),
            ('kstore.orderbook_deltas', 'SELECT'),
            ('kstore.orderbook_snapshots', 'SELECT'),
            ('kstore.series', 'SELECT'),
            ('kstore.series_history', 'SELECT'),
            ('kstore.tickers', 'SELECT'),
            ('kstore.trades', 'SELECT'),
            ('ops.dedup_cursors', 'SELECT'),
            ('ops.export_cursors', 'INSERT,SELECT,UPDATE'),
            ('ops.export_manifest', 'DELETE,INSERT,SELECT,UPDATE'),
            ('ops.lake_health', 'SELECT'),
            ('ops.reconciliation', 'SELECT')
    $$,
    'exporter: reads every data table and the dedup cursors, writes only its manifest and cursors'
);

select results_eq(
    $$select * from tap.table_privileges('kstore_analyst')$$,
    $$
        values
            ('kstore.events', 'SELECT'),
            ('kstore.events_history', 'SELECT'),
            ('kstore.feed_gaps', 'SELECT'),
            ('kstore.markets', 'SELECT'),
            ('kstore.markets_history', 'SELECT'),
            ('kstore.orderbook_deltas', 'SELECT'),
            ('kstore.orderbook_snapshots', 'SELECT'),
            ('kstore.series', 'SELECT'),
            ('kstore.series_history', 'SELECT'),
            ('kstore.tickers', 'SELECT'),
            ('kstore.trades', 'SELECT'),
            ('ops.dedup_cursors', 'SELECT'),
            ('ops.export_cursors', 'SELECT'),
            ('ops.export_manifest', 'SELECT'),
            ('ops.lake_health', 'SELECT'),
            ('ops.reconciliation', 'SELECT'),
            ('ops.reconciliation_runs', 'SELECT'),
            ('ops.reconciliation_summary', 'SELECT')
    $$,
    'analyst: select only'
);

select results_eq(
    $$select * from tap.table_privileges('kstore_maintainer')$$,
    $$
        values
            ('ops.dedup_cursors', 'SELECT'),
            ('ops.export_manifest', 'SELECT')
    $$,
    'maintainer: reads the cursors and the manifest, no data table'
);

select schema_privs_are('kstore', 'kstore_dedup', array['USAGE'], 'dedup may use schema kstore');
select schema_privs_are('ops', 'kstore_dedup', array['USAGE'], 'dedup may use schema ops');
select schema_privs_are(
    'kstore', 'kstore_exporter', array['USAGE'], 'exporter may use schema kstore'
);
select schema_privs_are('ops', 'kstore_exporter', array['USAGE'], 'exporter may use schema ops');
select schema_privs_are(
    'kstore', 'kstore_analyst', array['USAGE'], 'analyst may use schema kstore'
);
select schema_privs_are(
    'kstore', 'kstore_maintainer', array[]::text[], 'maintainer has no access to kstore'
);
select schema_privs_are(
    'ops', 'kstore_maintainer', array['USAGE'], 'maintainer may use schema ops'
);

select function_privs_are(
    'ops', 'maintain', array['timestamp with time zone'], 'kstore_dedup', array[]::text[],
    'dedup may not execute ops.maintain()'
);
select function_privs_are(
    'ops', 'maintain', array['timestamp with time zone'], 'kstore_exporter', array[]::text[],
    'the exporter may not execute ops.maintain()'
);
select function_privs_are(
    'ops', 'maintain', array['timestamp with time zone'], 'kstore_analyst', array[]::text[],
    'the analyst may not execute ops.maintain()'
);

-- ---------------------------------------------------------------- dedup, as behaviour

set local role kstore_dedup;

select lives_ok(
    $$
        insert into kstore.feed_gaps (
            gatherer_id, gap_id, connection_id, sid, expected_seq, received_seq, detected_at
        )
        values ('g1', 1, 'c1', 1, 10, 12, now())
        on conflict (gatherer_id, gap_id) do update set recovered_at = excluded.recovered_at
    $$,
    'dedup merges feed gaps'
);
select lives_ok(
    $$
        insert into kstore.markets (market_ticker, event_ticker, updated_time, raw)
        values ('KXTEST-1', 'KXTEST', '2030-01-01', '{"status": "initialized"}')
    $$,
    'dedup inserts a market (and its first history row)'
);
select lives_ok(
    $$
        insert into kstore.markets (market_ticker, event_ticker, status, updated_time, raw)
        values ('KXTEST-1', 'KXTEST', 'open', '2030-01-02', '{"status": "open"}')
        on conflict (market_ticker) do update set
            status = excluded.status,
            updated_time = excluded.updated_time,
            observed_at = excluded.observed_at,
            raw = excluded.raw
    $$,
    'dedup upserts a newer market version'
);
select results_eq(
    $$select status from kstore.markets where market_ticker = 'KXTEST-1'$$,
    $$values ('open')$$,
    'the newer market version is current'
);
select lives_ok(
    $$
        insert into ops.dedup_cursors (gatherer_id, table_name, watermark)
        values ('g1', 'trades', now())
        on conflict (gatherer_id, table_name) do update set watermark = excluded.watermark
    $$,
    'dedup advances its cursor'
);
select throws_ok(
    $$update kstore.markets_history set raw = '{}'$$, '42501', null,
    'dedup cannot rewrite history (append-only)'
);
select throws_ok(
    $$delete from kstore.markets_history$$, '42501', null,
    'dedup cannot delete history (append-only)'
);
select throws_ok(
    $$insert into ops.export_manifest (table_name, window_start, window_end, row_count, object_key)
      values ('trades', '2030-01-01', '2030-01-02', 0, 'x')$$,
    '42501', null,
    'dedup cannot write the export manifest'
);

reset role;

-- A merged trade for the exporter to read.
insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id)
values ('d0000000-0000-0000-0000-000000000001', now(), 'KXTEST-1', 0.42, 0.58, 1, 'g1');

-- ---------------------------------------------------------------- exporter, as behaviour

set local role kstore_exporter;

select results_eq(
    $$select count(*) from kstore.trades where trade_id = 'd0000000-0000-0000-0000-000000000001'$$,
    $$values (1::bigint)$$,
    'exporter reads trades'
);
select lives_ok(
    $$select * from kstore.markets_history$$, 'exporter reads history'
);
select lives_ok(
    $$
        insert into ops.export_manifest (
            table_name, window_start, window_end, row_count, object_key
        )
        values ('trades', '2030-01-01', '2030-01-02', 0, 'raw/trades/date=2030-01-01/t.parquet')
    $$,
    'exporter records an exported window'
);
select lives_ok(
    $$update ops.export_manifest set verified_at = now() where table_name = 'trades'$$,
    'exporter marks a window verified'
);
select lives_ok(
    $$delete from ops.export_manifest where table_name = 'trades'$$,
    'exporter removes a manifest row (re-export)'
);
select throws_ok(
    $$insert into kstore.trades default values$$, '42501', null, 'exporter cannot insert trades'
);
select throws_ok(
    $$delete from kstore.trades$$, '42501', null, 'exporter cannot delete trades'
);
select throws_ok(
    $$update ops.dedup_cursors set watermark = now()$$, '42501', null,
    'exporter cannot move dedup cursors'
);

reset role;

-- ---------------------------------------------------------------- analyst, as behaviour

set local role kstore_analyst;

select lives_ok(
    $$select * from kstore.trades$$, 'analyst reads trades'
);
select lives_ok(
    $$select * from kstore.markets_history$$, 'analyst reads history'
);
select throws_ok(
    $$insert into kstore.trades default values$$, '42501', null, 'analyst cannot insert trades'
);
select throws_ok(
    $$update kstore.markets set status = 'settled'$$, '42501', null,
    'analyst cannot update markets'
);
select throws_ok(
    $$delete from kstore.tickers$$, '42501', null, 'analyst cannot delete tickers'
);
select throws_ok(
    $$insert into ops.export_manifest (table_name, window_start, window_end, row_count, object_key)
      values ('trades', '2030-01-01', '2030-01-02', 0, 'x')$$,
    '42501', null,
    'analyst cannot write the export manifest'
);

-- The analyst reads the export manifest and the dedup cursors (schema ops).
select lives_ok(
    $$select * from ops.export_manifest$$, 'analyst reads the export manifest'
);
select lives_ok(
    $$select * from ops.dedup_cursors$$, 'analyst reads the dedup cursors'
);

reset role;

-- ---------------------------------------------------------------- maintainer, as behaviour

set local role kstore_maintainer;

select lives_ok(
    $$select * from ops.export_manifest$$, 'kstore_maintainer reads the export manifest'
);
select throws_ok(
    $$update ops.export_manifest set verified_at = now()$$, '42501', null,
    'kstore_maintainer cannot mark windows verified (which would unlock retention)'
);

reset role;

select * from finish();  -- noqa: AM04
rollback;
