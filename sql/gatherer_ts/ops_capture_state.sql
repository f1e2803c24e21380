-- ops.capture_state: exactly one row, the newest capture run's stop (null while it runs, after
-- a crash, or before any run). The deduplicator reads it through postgres_fdw in the same
-- remote snapshot as the horizon and the rows (ops.pull), so a stop it sees is a stop whose
-- rows it can see too.

create or replace view ops.capture_state as
select
    (array_agg(r.stopped_at order by r.run_id desc))[1] as stopped_at,
    (array_agg(r.stopped_xid order by r.run_id desc))[1] as stopped_xid
from ops.capture_runs as r;

grant select on ops.capture_state to kstore_gatherer_reader;
