-- How far the deduplicator has safely merged each table of this gatherer into production:
-- every row with received_at <= acked_through is committed there. Guarded retention never
-- drops a row above it. Written only by the kstore_dedup_ack role.

create table ops.dedup_ack (
    table_name text primary key,
    acked_through timestamptz not null,
    acked_at timestamptz not null default now()
);

grant select, insert, update on ops.dedup_ack to kstore_dedup_ack;
grant select on ops.dedup_ack to kstore_gatherer_reader, kstore_maintainer;
