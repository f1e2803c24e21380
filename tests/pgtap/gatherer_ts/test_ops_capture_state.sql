-- ops.capture_state on a gatherer's time-series database (sql/gatherer_ts/ops_capture_state.sql):
-- exactly one row, the newest capture run's stop. Null before any run, while the newest run
-- captures, and after a crash (a run never stopped); an older stopped run never counts once a
-- newer one started. The reader (the postgres_fdw mapping) reads it.

begin;
select plan(6);

select has_view('ops', 'capture_state', 'ops.capture_state exists');
select results_eq(
    $$select * from ops.capture_state$$,
    $$values (null::timestamptz, null::xid8)$$,
    'no run yet: one row, no stop'
);

insert into ops.capture_runs (started_at) values ('2030-01-01 00:00+00');

select results_eq(
    $$select * from ops.capture_state$$,
    $$values (null::timestamptz, null::xid8)$$,
    'the newest run captures: no stop'
);

update ops.capture_runs set stopped_at = '2030-01-01 01:00+00', stopped_xid = '900';

select results_eq(
    $$select * from ops.capture_state$$,
    $$values ('2030-01-01 01:00+00'::timestamptz, '900'::xid8)$$,
    'the newest run stopped: its stop time and transaction'
);

insert into ops.capture_runs (started_at) values ('2030-01-01 02:00+00');

select results_eq(
    $$select * from ops.capture_state$$,
    $$values (null::timestamptz, null::xid8)$$,
    'a newer run started: the older stop no longer counts'
);

set local role kstore_gatherer_reader;

select results_eq(
    $$select count(*) from ops.capture_state$$,
    $$values (1::bigint)$$,
    'the reader reads the capture state'
);

reset role;

select * from finish();  -- noqa: AM04
rollback;
