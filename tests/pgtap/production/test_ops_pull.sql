-- ops.pull() and its parts in production (DESIGN §5, sql/production/ops_pull.sql): their
-- signatures; ops.xid_after() steps a transaction id, across the 32-bit epoch too; the catalog
-- names each reference table's family and the key it is merged on; a table that is not pulled, or
-- a gatherer never attached, is refused. Pulls run against a stand-in for an attached gatherer:
-- schema gatherer_tap holds local tables of the gatherer's shape and the horizons, set by the
-- test, where ops.attach_gatherer() would put foreign tables (pulls through postgres_fdw: pytest).
-- As kstore_dedup, a pull merges whole gatherer transactions below the horizon, page by page, and
-- advances the cursor with them; rows at or above the horizon wait, rows production already has
-- are skipped, an older reference version never replaces a newer one, and running a pull again is
-- a no-op.

begin;
select plan(23);

select results_eq(
    $$
        select p.proname::text collate "default", pg_get_function_arguments(p.oid),
            pg_get_function_result(p.oid)
        from pg_proc as p
        where p.pronamespace = 'ops'::regnamespace
            and p.proname in (
                'pull', 'xid_after', 'merge_statement', 'table_family', 'pull_feed_gaps'
            )
        order by p.proname
    $$,
    $$
        values
            (
                'merge_statement',
                'source_schema name, table_name text, cursor_column name, '
                || 'since_bound boolean DEFAULT false',
                'text'
            ),
            (
                'pull', 'gatherer_id text, table_name text, page_size integer',
                'TABLE(rows_read bigint, rows_inserted bigint, next_xid xid8, caught_up boolean)'
            ),
            ('pull_feed_gaps', 'gatherer_id text', 'bigint'),
            ('table_family', 'table_name text', 'text'),
            ('xid_after', 'xid xid8', 'xid8')
    $$,
    'ops.pull(), ops.pull_feed_gaps() and their helpers with their signatures'
);

select results_eq(
    $$
        select ops.xid_after('41'), ops.xid_after('4294967295'), ops.xid_after(null)
    $$,
    $$values ('42'::xid8, '4294967296'::xid8, null::xid8)$$,
    'ops.xid_after() is the next transaction id, across the 32-bit epoch (null stays null)'
);

select results_eq(
    $$
        select t.name, c.key_columns[1]::text collate "default"
        from unnest(array['series', 'events', 'markets']) as t (name)
        inner join ops.catalog as c on t.name = c.table_name
        where ops.table_family(t.name) = 'reference' and cardinality(c.key_columns) = 1
    $$,
    $$
        values
            ('series', 'series_ticker'),
            ('events', 'event_ticker'),
            ('markets', 'market_ticker')
    $$,
    'each reference table is merged on its one-column key, from the catalog'
);

select throws_ok(
    $$select * from ops.pull('tap', 'quarantine', 10)$$,
    'P0001', 'ops.pull: quarantine is not a pulled table',
    'ops.pull() refuses a table that is not pulled'
);

select throws_ok(
    $$select * from ops.pull('nowhere', 'trades', 10)$$,
    '42P01', null,
    'ops.pull() of a gatherer never attached fails (no schema gatherer_nowhere)'
);

-- ---------------------------------------------------------------- the stand-in gatherer "tap"

create schema gatherer_tap;
create table gatherer_tap.ts_xact_horizon (horizon xid8 not null);
create table gatherer_tap.rel_xact_horizon (horizon xid8 not null);
create table gatherer_tap.ts_capture_state (stopped_at timestamptz, stopped_xid xid8);
insert into gatherer_tap.ts_capture_state values (null, null);
create table gatherer_tap.trades (like kstore.trades including defaults);
alter table gatherer_tap.trades drop column merged_at;
create table gatherer_tap.markets (like kstore.markets including defaults);
create table gatherer_tap.feed_gaps (like kstore.feed_gaps including defaults);
grant usage on schema gatherer_tap to kstore_dedup;
grant select on all tables in schema gatherer_tap to kstore_dedup;
insert into ops.dedup_cursors (gatherer_id, table_name)
select
    'tap' as gatherer_id,
    t.name as table_name
from unnest(ops.pulled_tables()) as t (name);

-- Gatherer transaction 5000 wrote trades 1 to 3, 5001 trades 4 and 5; 5002, still running
-- (the horizon), re-sent trade 1.
insert into gatherer_tap.ts_xact_horizon (horizon) values ('5002');
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
    values (1, '5000'), (2, '5000'), (3, '5000'), (4, '5001'), (5, '5001'), (1, '5002')
) as r (n, xact_id);

-- ---------------------------------------------------------------- time series, as kstore_dedup

set local role kstore_dedup;

select results_eq(
    $$select * from ops.pull('tap', 'trades', 2)$$,
    $$values (3::bigint, 3::bigint, '5001'::xid8, false)$$,
    'a page of 2 rows merges its last transaction whole (3 rows); the cursor moves past it'
);
select results_eq(
    $$select * from ops.pull('tap', 'trades', 10)$$,
    $$values (2::bigint, 2::bigint, '5002'::xid8, true)$$,
    'the next page reaches the horizon: caught up, and the running transaction''s row waits'
);
select results_eq(
    $$select * from ops.pull('tap', 'trades', 10)$$,
    $$values (0::bigint, 0::bigint, '5002'::xid8, true)$$,
    'running the same pull again is a no-op'
);
select results_eq(
    $$
        select c.next_xid, c.rows_read, c.rows_inserted, c.rows_skipped, c.caught_up, c.watermark,
            (select count(*) from kstore.trades)
        from ops.dedup_cursors as c
        where c.gatherer_id = 'tap' and c.table_name = 'trades'
    $$,
    $$
        values (
            '5002'::xid8, 5::bigint, 5::bigint, 0::bigint, true,
            '2030-01-02 00:00:05+00'::timestamptz, 5::bigint
        )
    $$,
    'the cursor moved with the rows it covers: five trades merged, watermark the newest'
);

reset role;

-- Transaction 5002 commits: the horizon passes it.
update gatherer_tap.ts_xact_horizon set horizon = '5003';

set local role kstore_dedup;

select results_eq(
    $$select * from ops.pull('tap', 'trades', 10)$$,
    $$values (1::bigint, 0::bigint, '5003'::xid8, true)$$,
    'the late transaction''s row is read once the horizon passes it, never skipped by the cursor'
);
select results_eq(
    $$
        select c.rows_read, c.rows_inserted, c.rows_skipped, (select count(*) from kstore.trades)
        from ops.dedup_cursors as c
        where c.gatherer_id = 'tap' and c.table_name = 'trades'
    $$,
    $$values (6::bigint, 5::bigint, 1::bigint, 5::bigint)$$,
    'a row production already has is counted as skipped, never a second row'
);

reset role;

-- ---------------------------------------------------------------- a stopped gatherer

-- One pull of tap's trades (it catches up), then the cursor's source_stopped_at.
create function tap.pull_stopped() returns timestamptz
language plpgsql as $$
begin
    perform ops.pull('tap', 'trades', 10);
    return (
        select c.source_stopped_at from ops.dedup_cursors as c
        where c.gatherer_id = 'tap' and c.table_name = 'trades'
    );
end
$$;
grant usage on schema tap to kstore_dedup;

-- Its capture run stopped in transaction 5004: still above the horizon 5003.
update gatherer_tap.ts_capture_state set
    stopped_at = '2030-01-02 01:00+00', stopped_xid = '5004';

set local role kstore_dedup;

select is(
    tap.pull_stopped(), null::timestamptz,
    'a stop the horizon has not passed yet is not recorded: rows of the run may still be unseen'
);

reset role;

update gatherer_tap.ts_xact_horizon set horizon = '5005';

set local role kstore_dedup;

select is(
    tap.pull_stopped(), '2030-01-02 01:00+00'::timestamptz,
    'caught up with a run that stopped below the horizon: source_stopped_at records the stop'
);

reset role;

-- The gatherer starts again: its newest run is open.
update gatherer_tap.ts_capture_state set stopped_at = null, stopped_xid = null;

set local role kstore_dedup;

select is(
    tap.pull_stopped(), null::timestamptz,
    'a gatherer capturing again clears source_stopped_at at its next pull'
);

reset role;

-- Stopped again in transaction 5004, yet transaction 5005 wrote a trade after it (a run whose
-- start went unrecorded): the gatherer is capturing.
update gatherer_tap.ts_capture_state set
    stopped_at = '2030-01-02 01:00+00', stopped_xid = '5004';
update gatherer_tap.ts_xact_horizon set horizon = '5006';
insert into gatherer_tap.trades (
    trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id, received_at, xact_id
)
values (
    'f0000000-0000-0000-0000-000000000009', '2030-01-02 01:00:05+00', 'KXTEST-1', 0.42, 0.58, 1,
    'g1', '2030-01-02 01:00:05+00', '5005'
);

set local role kstore_dedup;

select is(
    tap.pull_stopped(), null::timestamptz,
    'a row written after the stop means capture went on: not recorded as stopped'
);

reset role;

-- ---------------------------------------------------------------- reference rows

-- Production's current KXM2 is newer than the gatherer's; KXM1 is new.
select tap.deliver_market('KXM2', 'closed', '2030-01-03 00:00+00');
insert into gatherer_tap.rel_xact_horizon (horizon) values ('7001');
insert into gatherer_tap.markets (
    market_ticker, event_ticker, status, updated_time, raw, changed_xid
)
values
('KXM1', 'KXE', 'open', '2030-01-02 00:00+00', '{"status": "open"}', '7000'),
('KXM2', 'KXE', 'open', '2030-01-02 00:00+00', '{"status": "open"}', '7000');

set local role kstore_dedup;

select results_eq(
    $$select * from ops.pull('tap', 'markets', 10)$$,
    $$values (2::bigint, 1::bigint, '7001'::xid8, true)$$,
    'a reference pull reads both versions and applies only the newer one'
);

reset role;

select results_eq(
    $$select market_ticker, status from kstore.markets order by market_ticker$$,
    $$values ('KXM1', 'open'), ('KXM2', 'closed')$$,
    'the new market is merged; the older version never replaced production''s newer one'
);

-- ---------------------------------------------------------------- feed gaps

insert into gatherer_tap.feed_gaps (
    gatherer_id, gap_id, connection_id, sid, expected_seq, received_seq, detected_at
)
values ('tap', 1, 'c1', 1, 10, 12, now());

set local role kstore_dedup;

select is(ops.pull_feed_gaps('tap'), 1::bigint, 'ops.pull_feed_gaps() merges a new gap');
select is(ops.pull_feed_gaps('tap'), 0::bigint, 'pulling the gaps again changes nothing');

reset role;

update gatherer_tap.feed_gaps set recovered_at = now(), recovery = 'snapshot';

set local role kstore_dedup;

select is(
    ops.pull_feed_gaps('tap'), 1::bigint, 'a gap recovered on the gatherer is brought up to date'
);

reset role;

-- A reconnect is a break per book (decision 0021): no seq, a cause, a span that resumes later.
insert into gatherer_tap.feed_gaps (
    gatherer_id, gap_id, connection_id, sid, channel, detected_at, cause, market_ticker,
    last_frame_at
)
values (
    'tap', 2, 'c1', 4, 'orderbook_delta', now(), 'silence', 'KXM1', now() - interval '40 seconds'
);

set local role kstore_dedup;

select is(ops.pull_feed_gaps('tap'), 1::bigint, 'a break is merged');

reset role;

update gatherer_tap.feed_gaps set resumed_at = now()
where gap_id = 2;

set local role kstore_dedup;

select is(ops.pull_feed_gaps('tap'), 1::bigint, 'a break that resumed is brought up to date');

reset role;

select results_eq(
    $$select cause, market_ticker, expected_seq, now() - last_frame_at, resumed_at = now()
      from kstore.feed_gaps where gatherer_id = 'tap' order by gap_id$$,
    $$values ('seq_jump', null, 10::bigint, null::interval, null::boolean),
             ('silence', 'KXM1', null, interval '40 seconds', true)$$,
    'cause, book and span reach production (a row from before the columns is a seq jump)'
);

select * from finish();  -- noqa: AM04
rollback;
