-- ops.xact_horizon: the oldest transaction id still running on this gatherer. Every row with a
-- smaller xact_id/changed_xid is committed (or gone) and visible to a snapshot taken now; no
-- later commit can add one. The deduplicator reads it through postgres_fdw in the same remote
-- transaction (one snapshot) as the rows it pulls.

create or replace view ops.xact_horizon as
select pg_snapshot_xmin(pg_current_snapshot()) as horizon;

grant select on ops.xact_horizon to kstore_gatherer_reader;
