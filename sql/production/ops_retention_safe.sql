-- ops.retention_safe(...) in production: a partition may be dropped only when verified lake
-- windows of that table cover its whole time range exactly once (no hole, no overlap, none
-- straddling its edges) and hold exactly as many rows as the partition does now (so rows that
-- arrived after the export keep it alive until the window is re-exported and re-verified).

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
        and m.verified_at is not null
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
