-- The gatherer roles' search_path in this database (sql/gatherer/roles_search_path.sql): the
-- schemas each role may use, set for this database only, so a psql session as the writer or
-- the reader finds the kstore tables by bare name (`\d trades`, `\d markets`). The rules every
-- search_path keeps: common/test_roles_search_path.sql.

begin;
select plan(1);

select set_eq(
    $$select role_name, search_path from tap.role_search_paths() where role_name like 'kstore\_%'$$,
    $$
        values
            ('kstore_dedup_ack', 'ops, public'),
            ('kstore_gatherer_reader', 'kstore, ops, public'),
            ('kstore_gatherer_writer', 'kstore, ops, public'),
            ('kstore_maintainer', 'ops, public')
    $$,
    'each gatherer role has the search_path of the schemas it may use, in this database'
);

select * from finish();  -- noqa: AM04
rollback;
