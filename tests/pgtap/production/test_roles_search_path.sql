-- The production roles' search_path in this database (sql/production/roles_search_path.sql):
-- the schemas each role may use, data first, so a psql session finds `\d trades` by bare name
-- (the analyst and exporter also the dbt layers, processed and aggregates). The rules every
-- search_path keeps: common/test_roles_search_path.sql.

begin;
select plan(1);

select set_eq(
    $$select role_name, search_path from tap.role_search_paths() where role_name like 'kstore\_%'$$,
    $$
        values
            ('kstore_analyst', 'kstore, processed, aggregates, ops, public'),
            ('kstore_dedup', 'kstore, ops, public'),
            ('kstore_exporter', 'kstore, processed, aggregates, ops, public'),
            ('kstore_maintainer', 'ops, public'),
            ('kstore_transform', 'kstore, staging, processed, aggregates, public')
    $$,
    'each production role has the search_path of the schemas it reads, in this database'
);

select * from finish();  -- noqa: AM04
rollback;
