-- ops.lake_record(dataset, window_start, window_end, object_key, row_count, byte_count,
-- checksum, min_ts, max_ts, verified): the window as the lake now holds it, after an export;
-- verified_at is set only when the object was read back and matched production (`verified`).
-- The record is in the current lake layout (the default of export_manifest.layout_version, V0035).

create or replace function ops.lake_record(
    dataset text, window_start timestamptz, window_end timestamptz, object_key text,
    row_count bigint, byte_count bigint, checksum text, min_ts timestamptz, max_ts timestamptz,
    verified boolean
)
returns void
language sql as $$
    insert into ops.export_manifest as m (
        table_name, window_start, window_end, row_count, byte_count, object_key, checksum,
        min_ts, max_ts, exported_at, verified_at
    )
    values (
        dataset, window_start, window_end, row_count, byte_count, object_key, checksum,
        min_ts, max_ts, now(), case when verified then now() end
    )
    on conflict (table_name, window_start) do update set
        window_end = excluded.window_end,
        row_count = excluded.row_count,
        byte_count = excluded.byte_count,
        object_key = excluded.object_key,
        checksum = excluded.checksum,
        min_ts = excluded.min_ts,
        max_ts = excluded.max_ts,
        exported_at = excluded.exported_at,
        verified_at = excluded.verified_at,
        layout_version = excluded.layout_version
$$;
