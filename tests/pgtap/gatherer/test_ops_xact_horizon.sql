-- ops.xact_horizon on both databases of a gatherer (sql/gatherer/ops_xact_horizon.sql): one row,
-- the oldest transaction id still running, read by the deduplicator (as the reader, through
-- postgres_fdw) in the same snapshot as the rows it pulls. Every row with a smaller
-- xact_id/changed_xid is committed, so the horizon never passes a transaction that is still
-- writing, this one included: its rows are never below it.

begin;
select plan(6);

select has_view('ops', 'xact_horizon', 'ops.xact_horizon exists');
select results_eq(
    $$select * from tap.columns_of('ops.xact_horizon')$$,
    $$values ('horizon', 'xid8', false, null::text)$$,
    'ops.xact_horizon: one column, horizon xid8'
);

-- This transaction writes (it has a transaction id) and is still running.
create temp table this_xact as
select pg_current_xact_id() as xact_id;

select results_eq(
    $$select count(*), count(horizon) from ops.xact_horizon$$,
    $$values (1::bigint, 1::bigint)$$,
    'ops.xact_horizon holds exactly one horizon'
);
select ok(
    (select horizon from ops.xact_horizon) <= (select xact_id from this_xact),
    'the horizon never passes a running transaction: it is at or below this one''s id'
);
select ok(
    pg_xact_status(
        ((select horizon from ops.xact_horizon)::text::numeric - 1)::text::xid8
    ) in ('committed', 'aborted'),
    'the transaction just below the horizon has finished'
);

set local role kstore_gatherer_reader;

select ok(
    (select horizon from ops.xact_horizon) <= pg_current_xact_id(),
    'the reader (the postgres_fdw mapping) reads the horizon'
);

reset role;

select * from finish();  -- noqa: AM04
rollback;
