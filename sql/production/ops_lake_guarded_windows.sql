-- ops.lake_guarded_windows(): the lake windows guarded retention will judge (decision 0045):
-- those of a table with a retention horizon whose range production still holds (at or after
-- its oldest partition), with the table's verified_within. Their verification must stay
-- fresh: the scrub reads them first and ops.lake_health calls them stale when it is not.
-- Security definer: it lists partitions (ops.partitions()), which the exporter and the
-- analyst cannot read themselves; it returns only manifest keys and a policy interval.

drop view if exists ops.lake_guarded_windows;

create or replace function ops.lake_guarded_windows()
returns table (table_name text, window_start timestamptz, verified_within interval)
language sql stable
security definer
set search_path = pg_catalog, pg_temp as $$
    with held as (
        select
            c.relname::text as table_name,
            tp.verified_within,
            min(p.range_start) as held_from
        from ops.table_policies as tp
        inner join pg_class as c on tp.table_name = c.oid
        inner join ops.partitions() as p on tp.table_name = p.table_name
        where tp.retain_for is not null and c.relnamespace = 'kstore'::regnamespace
        group by c.relname, tp.verified_within
    )

    select
        m.table_name,
        m.window_start,
        h.verified_within
    from ops.export_manifest as m
    inner join held as h on m.table_name = h.table_name
    where m.window_end > h.held_from
$$;

revoke all on function ops.lake_guarded_windows() from public;
grant execute on function ops.lake_guarded_windows() to kstore_exporter, kstore_analyst;
