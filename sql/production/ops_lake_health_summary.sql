-- ops.lake_health_summary(): ops.lake_health in one line, for `kstore status` and logs, e.g.
--   lake ok: 1,204 windows verified in 9 datasets, 3 pending, last scrub 2026-12-06 05:40Z
--   lake DAMAGED: 1 damaged window (raw/trades/…: missing; not repaired: …), 0 stale, …

create or replace function ops.lake_health_summary()
returns text
language sql stable as $$
    select format(
        'lake %s: %s windows verified in %s datasets, %s pending, %s damaged, %s stale, '
        'last scrub %s%s',
        case
            when coalesce(sum(h.damaged), 0) > 0 then 'DAMAGED'
            when coalesce(sum(h.stale), 0) > 0 then 'stale'
            else 'ok'
        end,
        coalesce(sum(h.verified), 0),
        count(*),
        coalesce(sum(h.pending), 0),
        coalesce(sum(h.damaged), 0),
        coalesce(sum(h.stale), 0),
        coalesce(to_char(max(h.last_scrub_at) at time zone 'UTC', 'YYYY-MM-DD HH24:MI"Z"'), 'never'),
        coalesce(' (' || (array_agg(h.detail) filter (where h.detail is not null))[1] || ')', '')
    )
    from ops.lake_health as h
$$;

grant execute on function ops.lake_health_summary() to kstore_exporter, kstore_analyst;
