-- ops.xact_horizon: the oldest transaction id still running on this gatherer. Every row with a
-- smaller xact_id/changed_xid is committed (or gone) and visible to a snapshot taken now; no
-- later commit can add one. The deduplicator reads it through postgres_fdw in the same remote
-- transaction (one snapshot) as the rows it pulls.

create or replace view ops.xact_horizon as
select pg_snapshot_xmin(pg_current_snapshot()) as horizon;

comment on view ops.xact_horizon is
'The oldest transaction id still running: every row with a smaller xact_id or changed_xid is '
'committed and visible now (the deduplicator''s cursor horizon, decision 0012).';
select ops.comment_columns('ops.xact_horizon', array[
    ['horizon', 'xmin of a snapshot taken now: no later commit adds a row below it.']
]);

grant select on ops.xact_horizon to kstore_gatherer_reader;
