-- ops.retention_safe(...) in production: a partition may be dropped only when verified lake
-- windows of that table cover its whole time range exactly once (no hole, no overlap, none
-- straddling its edges) and hold exactly as many rows as the partition does now (so rows that
-- arrived after the export keep it alive until the window is re-exported and re-verified).
-- Each window's newest verification (at export, or by a scrub that read the object again,
-- decision 0045) must be newer than the table's verified_within: a lake object nobody has
-- read for longer may have been lost or changed since, so it is not trusted as the only copy.

create or replace function ops.retention_safe(
    relation regclass, part regclass, range_start timestamptz, range_end timestamptz
)
returns boolean
language plpgsql stable as $$
declare
    covered tstzmultirange;
    total_length interval;
    exported bigint;
    straddling boolean;
    present bigint;
    fresh_after timestamptz := now() - coalesce(
        (select p.verified_within from ops.table_policies as p where p.table_name = relation),
        interval '7 days'
    );
begin
    select
        range_agg(tstzrange(m.window_start, m.window_end)),
        coalesce(sum(m.window_end - m.window_start), interval '0'),
        coalesce(sum(m.row_count), 0),
        coalesce(bool_or(m.window_start < range_start or m.window_end > range_end), false)
    into covered, total_length, exported, straddling
    from ops.export_manifest as m
    inner join pg_class as c on m.table_name = c.relname
    where c.oid = relation
        and m.verified_at > fresh_after
        and m.window_start < range_end
        and m.window_end > range_start;
    if straddling
        or covered is distinct from tstzmultirange(tstzrange(range_start, range_end))
        or total_length <> range_end - range_start then
        return false;
    end if;
    execute format('select count(*) from %s', part) into present;
    return present = exported;
end
$$;
