-- Privileges of the gatherer roles in both databases of a gatherer (DESIGN §7, decision 0017),
-- re-applied after every migration. On the kstore tables they are derived from the table
-- catalog (ops.grant_catalog_tables): the writer inserts and reads the tables a writer pool
-- writes, and updates the ones whose rows change (feed gaps, reference data); the reader
-- (postgres_fdw mapping) reads every table; kstore_dedup_ack and kstore_maintainer touch none.
-- A new table needs its catalog row, not a grant. ops tables: sql/gatherer_ts/grants.sql.

grant usage on schema kstore to kstore_gatherer_writer, kstore_gatherer_reader;
-- ops holds trigger functions the writer's upserts run (reference data) and control tables
-- it has no privileges on.
grant usage on schema ops to
kstore_gatherer_writer, kstore_gatherer_reader, kstore_dedup_ack, kstore_maintainer;

select ops.grant_catalog_tables(r.role_name, r.access) as changed_tables
from (
    values
    ('kstore_gatherer_writer', 'write'),
    ('kstore_gatherer_reader', 'read'),
    ('kstore_dedup_ack', 'none'),
    ('kstore_maintainer', 'none')
) as r (role_name, access);
