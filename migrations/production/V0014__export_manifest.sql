-- One row per exported lake window. A window counts as exported only when verified_at is set:
-- the object was read back and its row count and time range matched production. Guarded
-- production retention drops nothing that verified windows do not cover.

create table ops.export_manifest (
    table_name text not null,
    window_start timestamptz not null,
    window_end timestamptz not null,
    row_count bigint not null check (row_count >= 0),
    byte_count bigint check (byte_count >= 0),
    object_key text not null,
    checksum text,
    min_ts timestamptz,
    max_ts timestamptz,
    exported_at timestamptz not null default now(),
    verified_at timestamptz,
    primary key (table_name, window_start),
    check (window_end > window_start)
);

create index export_manifest_verified_idx on ops.export_manifest (table_name, window_end)
where verified_at is not null;
