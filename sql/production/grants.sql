-- Privileges of the production roles (DESIGN §7, decision 0017), re-applied after every
-- migration. On the kstore tables they are derived from the table catalog
-- (ops.grant_catalog_tables): the deduplicator inserts and reads what it merges and the
-- history its merges append, and updates the rows that change (reference data, feed gaps);
-- the exporter, the analyst and dbt (kstore_transform) read every table; the maintainer reads
-- none. A new table needs its catalog row, not a grant. Nobody but the migration owner changes
-- the schema.

grant usage on schema kstore to kstore_dedup, kstore_exporter, kstore_analyst, kstore_transform;
grant usage on schema ops to kstore_dedup, kstore_exporter, kstore_analyst, kstore_maintainer;

select ops.grant_catalog_tables(r.role_name, r.access) as changed_tables
from (
    values
    ('kstore_dedup', 'write'),
    ('kstore_exporter', 'read'),
    ('kstore_analyst', 'read'),
    ('kstore_transform', 'read'),
    ('kstore_maintainer', 'none')
) as r (role_name, access);

-- ops: the deduplicator moves its cursors; the exporter writes the manifest and its cursors;
-- the analyst and the maintainer read the cursors and the manifest (the maintainer's retention
-- guard), the exporter the dedup cursors (the close rule) and the reconciliation results (a lake
-- dataset, decision 0046).
grant select, insert, update on ops.dedup_cursors to kstore_dedup;
grant select, insert, update, delete on ops.export_manifest to kstore_exporter;
grant select, insert, update on ops.export_cursors to kstore_exporter;
grant select on ops.dedup_cursors, ops.reconciliation to kstore_exporter;
grant select on ops.export_manifest, ops.dedup_cursors, ops.export_cursors to kstore_analyst;
grant select on ops.export_manifest, ops.dedup_cursors to kstore_maintainer;

-- dbt builds its layers in schemas it creates (create, temporary for incremental builds);
-- whatever it creates is readable by the exporter (lake export of the layers) and the analyst.
do $$
begin
    execute format(
        'grant create, temporary on database %I to kstore_transform', current_database()
    );
end
$$;
alter default privileges for role kstore_transform
grant usage on schemas to kstore_exporter, kstore_analyst;
alter default privileges for role kstore_transform
grant select on tables to kstore_exporter, kstore_analyst;
