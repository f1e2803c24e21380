-- ops.status_gaps(open_age): feed gaps per gatherer as production has merged them
-- (kstore.feed_gaps, decision 0021), for `kstore status` and the deduplicator's metrics: gaps
-- recorded, recovered, still open, and open for longer than `open_age` (a gap whose recovery
-- is not coming), with the newest detection. Production's copy is re-read from each gatherer
-- for two days (ops.pull_feed_gaps), so a recovery shows up at the next merge.

create or replace function ops.status_gaps(open_age interval)
returns table (
    gatherer_id text, detected bigint, recovered bigint, open bigint, open_old bigint,
    newest_detected_at timestamptz
)
language sql stable as $$
    select
        g.gatherer_id,
        count(*) as detected,
        count(*) filter (where g.recovered_at is not null) as recovered,
        count(*) filter (where g.recovered_at is null) as open,
        count(*) filter (where g.recovered_at is null and g.detected_at < now() - open_age)
            as open_old,
        max(g.detected_at) as newest_detected_at
    from kstore.feed_gaps as g
    group by g.gatherer_id
    order by g.gatherer_id
$$;
