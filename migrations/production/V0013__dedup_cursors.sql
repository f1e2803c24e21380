-- Where the deduplicator stands per (gatherer, table): every source row at or below
-- `watermark` (received_at of the gatherer) is merged. Advanced in the same transaction as the
-- rows it covers, so a crash never moves it past uncommitted rows.

create table ops.dedup_cursors (
    gatherer_id text not null,
    table_name text not null,
    watermark timestamptz not null default '-infinity',
    rows_read bigint not null default 0,
    rows_inserted bigint not null default 0,
    last_pull_at timestamptz,
    last_error text,
    primary key (gatherer_id, table_name)
);
