-- ops.lake_scrub_plan(dataset, since, verified_before, max_windows): the verified windows a
-- scrub reads again (decision 0045), those guarded retention will judge first
-- (ops.lake_guarded_windows()), then least recently verified first: those ending after
-- `since` (null: all), of `dataset` (null: every dataset), whose newest verification is older
-- than `verified_before`, at most max_windows of them (null: no limit). With the manifest's
-- size, checksum and rows, what the object must still match.

create or replace function ops.lake_scrub_plan(
    dataset text, since timestamptz, verified_before timestamptz, max_windows integer
)
returns table (
    table_name text,
    window_start timestamptz,
    object_key text,
    row_count bigint,
    byte_count bigint,
    checksum text
)
language sql stable as $$
    select m.table_name, m.window_start, m.object_key, m.row_count, m.byte_count, m.checksum
    from ops.export_manifest as m
    left join ops.lake_guarded_windows() as r
        on m.table_name = r.table_name and m.window_start = r.window_start
    where
        m.verified_at is not null
        and m.verified_at < coalesce(verified_before, 'infinity')
        and (dataset is null or m.table_name = dataset)
        and (since is null or m.window_end > since)
    order by r.table_name is null, m.verified_at, m.table_name, m.window_start
    limit max_windows
$$;

grant execute on function ops.lake_scrub_plan(text, timestamptz, timestamptz, integer)
to kstore_exporter;
