-- The rules every runtime role's search_path keeps in every database (sql/gatherer/ and
-- sql/production/roles_search_path.sql; the exact paths: gatherer/ and production/): a kstore
-- login role that may use kstore or ops here has one, no path names a schema its role may not
-- use, and under a path starting with kstore every kstore table resolves by bare name.

begin;
select plan(3);

select is_empty(
    $$
        select r.rolname from pg_roles as r
        where r.rolname like 'kstore\_%' and r.rolcanlogin
            and (
                has_schema_privilege(r.oid, 'kstore', 'USAGE')
                or has_schema_privilege(r.oid, 'ops', 'USAGE')
            )
            and r.rolname not in (select p.role_name from tap.role_search_paths() as p)
    $$,
    'every kstore login role that may use kstore or ops here has a search_path here'
);

select is_empty(
    $$
        select p.role_name, s.schema_name
        from tap.role_search_paths() as p
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
        from tap.role_search_paths() as p
        cross join tap.tables_in('kstore') as t (table_name)
        where p.role_name like 'kstore\_%' and p.search_path ~ '^kstore,'
            and tap.resolves(p.search_path, t.table_name)
            is distinct from format('kstore.%I', t.table_name)::regclass
    $$,
    'under each search_path that starts with kstore, every kstore table resolves by bare name'
);

select * from finish();  -- noqa: AM04
rollback;
