-- ops.retention_safe(...) in production: a partition may be dropped only when verified lake
-- windows of that table cover its whole time range without holes and hold exactly as many
-- rows as the partition does now (so rows that arrived after the export keep it alive).

create or replace function ops.retention_safe(
    relation regclass, part regclass, range_start timestamptz, range_end timestamptz
)
returns boolean
language plpgsql stable as $$
declare
    covered interval;
    exported bigint;
    straddling boolean;
    present bigint;
begin
    select
        coalesce(sum(m.window_end - m.window_start), interval '0'),
        coalesce(sum(m.row_count), 0),
        coalesce(bool_or(m.window_start < range_start or m.window_end > range_end), false)
    into covered, exported, straddling
    from ops.export_manifest as m
    inner join pg_class as c on m.table_name = c.relname
    where c.oid = relation
        and m.verified_at is not null
        and m.window_start < range_end
        and m.window_end > range_start;
    if straddling or covered <> range_end - range_start then
        return false;
    end if;
    execute format('select count(*) from %s', part) into present;
    return present = exported;
end
$$;
