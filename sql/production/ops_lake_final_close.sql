-- ops.lake_final_close(close_after, dead_after): when every time series the deduplicator pulls
-- has a final close (decision 0015: every live gatherer stopped and merged), the latest of
-- their bounds; else null. Tables merged alongside them (reference data, feed gaps) or
-- written by those merges (history) can receive no row either until capture starts again.

create or replace function ops.lake_final_close(close_after interval, dead_after interval)
returns timestamptz
language sql stable as $$
    select case when bool_and(coalesce(c.final, false)) then max(c.closed_until) end
    from ops.tables as t
    left join lateral ops.lake_close(t.table_name, close_after, dead_after) as c on true
    where t.family = 'timeseries' and t.merge = 'pull'
$$;
