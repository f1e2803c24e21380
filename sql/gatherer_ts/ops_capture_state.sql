-- ops.capture_state: exactly one row, the newest capture run's stop (null while it runs, after
-- a crash, or before any run). The deduplicator reads it through postgres_fdw in the same
-- remote snapshot as the horizon and the rows (ops.pull), so a stop it sees is a stop whose
-- rows it can see too.

create or replace view ops.capture_state as
select
    (array_agg(r.stopped_at order by r.run_id desc))[1] as stopped_at,
    (array_agg(r.stopped_xid order by r.run_id desc))[1] as stopped_xid
from ops.capture_runs as r;

comment on view ops.capture_state is
'The newest capture run''s stop (one row), read by ops.pull() in the same snapshot as the rows.';
select ops.comment_columns('ops.capture_state', array[
    [
        'stopped_at',
        'When the newest run stopped cleanly; null while it runs, after a crash or before any run.'
    ],
    ['stopped_xid', 'Transaction that recorded the stop; null with stopped_at.']
]);

grant select on ops.capture_state to kstore_gatherer_reader;
