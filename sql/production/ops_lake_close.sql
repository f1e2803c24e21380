-- ops.lake_close(table, close_after, dead_after): the close rule of one table (decisions 0014,
-- 0015): windows ending at or before closed_until can receive no merged row any more; final
-- means no row can arrive at all (every live gatherer stopped and merged). No row: nothing is
-- closed yet (no live gatherer has pulled).
--
-- A gatherer is live while its newest pull (any table) is within dead_after of the newest pull
-- of any gatherer; one with no pull at all is not live. A live gatherer that captures has its
-- rows merged up to its caught-up time: its last pull when that pull caught up, else the
-- receive time of its newest merged row (watermark). The bound is the earliest of those minus
-- close_after (clock skew, commit delay). A live gatherer whose capture stopped and is merged
-- (source_stopped_at) holds nothing back; when every live one has, the close is final, from the
-- later of the last stop and the wall clock, plus close_after. A table without any dedup cursor
-- is not fed by the deduplicator: the wall clock minus close_after.

create or replace function ops.lake_close(
    table_name text, close_after interval, dead_after interval
)
returns table (closed_until timestamptz, final boolean)
language sql stable as $$
    with cursors as (
        select
            c.table_name,
            c.source_stopped_at,
            case
                when c.caught_up then c.last_pull_at
                else greatest(c.watermark, timestamptz '1970-01-01 00:00+00')
            end as caught_up_at,
            max(c.last_pull_at) over (partition by c.gatherer_id) as gatherer_seen,
            max(c.last_pull_at) over () as freshest
        from ops.dedup_cursors as c
    ),

    live as (
        select c.caught_up_at, c.source_stopped_at
        from cursors as c
        where c.table_name = lake_close.table_name and c.gatherer_seen >= c.freshest - dead_after
    ),

    bound as (
        select
            (select count(*) from cursors as c where c.table_name = lake_close.table_name)
                as cursor_count,
            (select count(*) from live) as live_count,
            (select min(l.caught_up_at) from live as l where l.source_stopped_at is null)
                as capturing,
            (select max(l.source_stopped_at) from live as l) as stopped
    )

    select
        case
            when b.cursor_count = 0 then now() - close_after
            when b.capturing is not null then least(b.capturing, now()) - close_after
            else greatest(b.stopped + close_after, now() - close_after)
        end as closed_until,
        b.cursor_count > 0 and b.capturing is null as final
    from bound as b
    where b.cursor_count = 0 or b.live_count > 0
$$;
