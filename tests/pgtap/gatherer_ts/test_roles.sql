-- Roles in a gatherer's time-series database (DESIGN §7): the writer inserts rows (the four
-- time-series tables: timeseries/test_writer.sql), quarantines bad frames, records feed gaps,
-- its capture runs and journal checkpoints, and touches nothing else in ops; the reader
-- (postgres_fdw mapping) only reads; kstore_dedup_ack only moves ops.dedup_ack;
-- kstore_maintainer reads the watermarks and runs ops.maintain()
-- (timeseries/test_ops_maintain.sql). The roles themselves:
-- gatherer/test_roles.sql. Privileges are checked as granted and as behaviour.
-- default_transaction_read_only applies at login, so under `set role` the reader's refusals come
-- from its privileges.

begin;
select plan(27);

-- ---------------------------------------------------------------- granted privileges

select results_eq(
    $$select * from tap.table_privileges('kstore_gatherer_writer')$$,
    $$
        values
            ('kstore.feed_gaps', 'INSERT,SELECT,UPDATE'),
            ('kstore.orderbook_deltas', 'INSERT,SELECT'),
            ('kstore.orderbook_snapshots', 'INSERT,SELECT'),
            ('kstore.quarantine', 'INSERT,SELECT'),
            ('kstore.tickers', 'INSERT,SELECT'),
            ('kstore.trades', 'INSERT,SELECT'),
            ('ops.capture_runs', 'INSERT,SELECT,UPDATE'),
            ('ops.journal_checkpoints', 'INSERT,SELECT,UPDATE')
    $$,
    'writer: insert and select on its tables, update only on feed_gaps; its runs and journal '
    'checkpoints in ops'
);

select results_eq(
    $$select * from tap.table_privileges('kstore_gatherer_reader')$$,
    $$
        values
            ('kstore.feed_gaps', 'SELECT'),
            ('kstore.orderbook_deltas', 'SELECT'),
            ('kstore.orderbook_snapshots', 'SELECT'),
            ('kstore.quarantine', 'SELECT'),
            ('kstore.tickers', 'SELECT'),
            ('kstore.trades', 'SELECT'),
            ('ops.capture_state', 'SELECT'),
            ('ops.dedup_ack', 'SELECT'),
            ('ops.xact_horizon', 'SELECT')
    $$,
    'reader: select only, on the data tables, ops.dedup_ack, the horizon and capture state'
);

select results_eq(
    $$select * from tap.table_privileges('kstore_dedup_ack')$$,
    $$values ('ops.dedup_ack', 'INSERT,SELECT,UPDATE')$$,
    'kstore_dedup_ack: writes ops.dedup_ack and nothing else'
);

select results_eq(
    $$select * from tap.table_privileges('kstore_maintainer')$$,
    $$values ('ops.dedup_ack', 'SELECT')$$,
    'kstore_maintainer: reads ops.dedup_ack and nothing else'
);

select function_privs_are(
    'ops', 'maintain', array['timestamp with time zone'], 'kstore_gatherer_writer',
    array[]::text[],
    'the writer may not execute ops.maintain()'
);
select function_privs_are(
    'ops', 'maintain', array['timestamp with time zone'], 'kstore_gatherer_reader',
    array[]::text[],
    'the reader may not execute ops.maintain()'
);

-- ---------------------------------------------------------------- the writer, as behaviour

set local role kstore_gatherer_writer;

select lives_ok(
    $$insert into kstore.quarantine (gatherer_id, reason, raw) values ('g1', 'bad', '\x00')$$,
    'writer quarantines a bad frame'
);
select lives_ok(
    $$
        insert into kstore.feed_gaps (gatherer_id, connection_id, sid, expected_seq, received_seq)
        values ('g1', 'c1', 1, 10, 12)
    $$,
    'writer records a feed gap'
);
select lives_ok(
    $$update kstore.feed_gaps set recovered_at = now(), recovery = 'snapshot'$$,
    'writer marks a feed gap recovered'
);
select lives_ok(
    $$insert into ops.capture_runs default values$$, 'writer records the start of a capture run'
);
select lives_ok(
    $$update ops.capture_runs set stopped_at = now(), stopped_xid = pg_current_xact_id()$$,
    'writer records the stop of its capture run'
);
select throws_ok(
    $$delete from kstore.quarantine$$, '42501', null, 'writer cannot delete quarantined frames'
);
select throws_ok(
    $$select * from ops.dedup_ack$$, '42501', null, 'writer cannot read ops.dedup_ack'
);
select throws_ok(
    $$insert into ops.dedup_ack (table_name, acked_through) values ('trades', now())$$,
    '42501', null,
    'writer cannot acknowledge merges'
);
select throws_ok(
    $$select * from ops.maintain()$$, '42501', null, 'writer cannot run ops.maintain()'
);

reset role;

-- ---------------------------------------------------------------- the reader, as behaviour

set local role kstore_gatherer_reader;

select lives_ok(
    $$select * from kstore.trades where received_at > now() - interval '1 hour'$$,
    'reader reads trades'
);
select lives_ok(
    $$select * from ops.dedup_ack$$, 'reader reads ops.dedup_ack'
);
select throws_ok(
    $$insert into kstore.trades default values$$, '42501', null, 'reader cannot insert trades'
);
select throws_ok(
    $$update kstore.feed_gaps set recovery = 'none'$$, '42501', null,
    'reader cannot update feed_gaps'
);
select throws_ok(
    $$delete from kstore.tickers$$, '42501', null, 'reader cannot delete tickers'
);
select throws_ok(
    $$insert into ops.dedup_ack (table_name, acked_through) values ('trades', now())$$,
    '42501', null,
    'reader cannot acknowledge merges'
);

reset role;

-- ---------------------------------------------------------------- kstore_dedup_ack

set local role kstore_dedup_ack;

select lives_ok(
    $$
        insert into ops.dedup_ack (table_name, acked_xid, acked_through)
        values ('trades', '1', now())
    $$,
    'kstore_dedup_ack records an acknowledgement'
);
select lives_ok(
    $$
        update ops.dedup_ack set acked_xid = '2', acked_through = now(), acked_at = now()
        where table_name = 'trades'
    $$,
    'kstore_dedup_ack advances an acknowledgement'
);
select throws_ok(
    $$delete from ops.dedup_ack$$, '42501', null, 'kstore_dedup_ack cannot delete watermarks'
);
select throws_ok(
    $$select * from kstore.trades$$, '42501', null, 'kstore_dedup_ack cannot read trades'
);

reset role;

-- ---------------------------------------------------------------- kstore_maintainer

set local role kstore_maintainer;

select lives_ok(
    $$select * from ops.dedup_ack$$, 'kstore_maintainer reads ops.dedup_ack'
);
select throws_ok(
    $$update ops.dedup_ack set acked_xid = pg_current_xact_id()$$, '42501', null,
    'kstore_maintainer cannot move acknowledgements (which would unlock retention)'
);

reset role;

select * from finish();  -- noqa: AM04
rollback;
