-- The production roles' search_path in this database (sql/production/roles_search_path.sql):
-- the schemas each role may use, data first, so a psql session finds `\d trades` by bare name
-- (the analyst and exporter also the dbt layers, processed and aggregates). A kstore role that
-- may use a schema here but has no search_path fails, and so does a path naming a schema the
-- role may not use.

begin;
select plan(4);

-- The search_path each role gets in this database (alter role ... in database ... set).
create temporary view role_search_paths as
select
    r.rolname::text as role_name,
    substr(s.setting, length('search_path=') + 1) as search_path
from pg_db_role_setting as d
inner join pg_roles as r on d.setrole = r.oid
inner join pg_database as db on d.setdatabase = db.oid
cross join unnest(d.setconfig) as s (setting)
where db.datname = current_database() and s.setting like 'search_path=%';

-- The relation a bare name resolves to under a search_path (the caller's path is restored).
create function pg_temp.resolves(path text, bare_name text)
returns regclass
language plpgsql as $$
declare
    saved text := current_setting('search_path');
    found regclass;
begin
    perform set_config('search_path', path, true);
    found := to_regclass(bare_name);
    perform set_config('search_path', saved, true);
    return found;
end
$$;

select set_eq(
    $$select role_name, search_path from role_search_paths where role_name like 'kstore\_%'$$,
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

select is_empty(
    $$
        select r.rolname from pg_roles as r
        where r.rolname like 'kstore\_%' and r.rolcanlogin
            and (
                has_schema_privilege(r.oid, 'kstore', 'USAGE')
                or has_schema_privilege(r.oid, 'ops', 'USAGE')
            )
            and r.rolname not in (select p.role_name from role_search_paths as p)
    $$,
    'every kstore login role that may use kstore or ops here has a search_path here'
);

select is_empty(
    $$
        select p.role_name, s.schema_name
        from role_search_paths as p
        cross join regexp_split_to_table(p.search_path, ',\s*') as s (schema_name)
        where p.role_name like 'kstore\_%'
            and to_regnamespace(s.schema_name) is not null
            and not has_schema_privilege(p.role_name, s.schema_name, 'USAGE')
    $$,
    'no search_path names a schema its role may not use (schemas dbt has not made are skipped)'
);

select is_empty(
    $$
        select p.role_name, t.table_name
        from role_search_paths as p
        cross join tap.tables_in('kstore') as t (table_name)
        where p.role_name like 'kstore\_%' and p.search_path ~ '^kstore,'
            and pg_temp.resolves(p.search_path, t.table_name)
            is distinct from format('kstore.%I', t.table_name)::regclass
    $$,
    'under each search_path that starts with kstore, every kstore table resolves by bare name'
);

select * from finish();  -- noqa: AM04
rollback;
