-- The table catalog (decision 0016) in every database: it knows this database's kind, it has a
-- row for every table of the `kstore` schema here and a table for every row homed here, its
-- time columns exist, and ops.catalog derives each table's key
-- from its primary key. A table created without its catalog row fails here.

begin;
select plan(8);

select ok(
    ops.database_kind() in ('gatherer_ts', 'gatherer_rel', 'production'),
    'ops.database_kind() is one of the three kinds'
);

select is_empty(
    $$
        select * from tap.tables_in('kstore')
        except
        select table_name::text from ops.catalog where here
    $$,
    'every table of the kstore schema here has a catalog row homed in this kind'
);
select is_empty(
    $$select table_name from ops.catalog where here and not present$$,
    'every catalog row homed in this kind has its table'
);
select is_empty(
    $$
        select c.table_name from ops.catalog as c
        where c.here and c.time_column is not null and not exists (
            select from pg_attribute as a
            where a.attrelid = format('kstore.%I', c.table_name)::regclass
                and a.attname = c.time_column and not a.attisdropped
        )
    $$,
    'every time column named by the catalog is a column of its table'
);
select is_empty(
    $$select table_name from ops.catalog where here and cardinality(key_columns) = 0$$,
    'ops.catalog derives a key (the primary key) for every table here'
);

select throws_ok(
    $$insert into ops.tables (table_name, homes, family, lake_grain, description)
      values ('x', '{production}', 'timeseries', 'hour', 'no prefix')$$,
    '23514', null,
    'a lake grain without a lake prefix is refused'
);

select is_empty(
    $$
        select r.rolname from pg_roles as r
        where r.rolname like 'kstore\_%' and has_schema_privilege(r.rolname, 'ops', 'usage')
            and not has_table_privilege(r.rolname, 'ops.catalog', 'select')
    $$,
    'every runtime role that uses ops can read the catalog'
);
select is_empty(
    $$
        select r.rolname from pg_roles as r
        cross join unnest(array['ops.database', 'ops.tables']) as t (name)
        cross join unnest(array['insert', 'update', 'delete', 'truncate']) as p (privilege)
        where r.rolname like 'kstore\_%' and has_table_privilege(r.rolname, t.name, p.privilege)
    $$,
    'no runtime role can change the catalog'
);

select * from finish();  -- noqa: AM04
rollback;
