-- How far the exporter has looked for rows that change already exported lake windows: every
-- production row of `table_name` whose xact_id lies below `next_xid` has been seen, and the
-- manifest windows it fell into were marked unverified in the same transaction that advanced
-- the cursor. next_xid is a transaction-id horizon (as in decision 0012), so a row whose
-- transaction commits late is still found. The exporter also reads the deduplicator's
-- cursors: a window is closed once every live gatherer has caught up past its end.

create table ops.export_cursors (
    table_name text primary key,
    next_xid xid8 not null,
    scanned_at timestamptz not null default now()
);

grant select, insert, update on ops.export_cursors to kstore_exporter;
grant select on ops.export_cursors to kstore_analyst;
grant select on ops.dedup_cursors to kstore_exporter;
