-- ops.grant_catalog_tables() in every database (decision 0017): the roles' privileges on the
-- kstore tables are derived from the table catalog, so a new table with its catalog row gets
-- them from sql/<kind>/grants.sql in the same migrate, without a grant migration. After a
-- migrate every role already holds what the catalog derives; re-deriving changes nothing,
-- gives a new table its grants, and takes back what the catalog does not give.

begin;
select plan(10);

create temporary table roles_here on commit drop as
select
    tap.writer_role() as writer,
    case tap.writer_role()
        when 'kstore_dedup' then 'kstore_analyst' else 'kstore_gatherer_reader'
    end as reader;

select is(
    (
        select sum(ops.grant_catalog_tables(r.role_name, r.access))::integer
        from roles_here as h
        cross join lateral (
            values (h.writer, 'write'), (h.reader, 'read'), ('kstore_maintainer', 'none')
        ) as r (role_name, access)
    ),
    0,
    'after a migrate every role holds what the catalog derives: re-deriving changes nothing'
);

-- A throw-away eighth table: its migration and its catalog row, no grant.
create table kstore.scratch_events (
    market_ticker text not null,
    ts timestamptz not null,
    primary key (market_ticker, ts)
);
insert into ops.tables (
    table_name, homes, family, time_column, merge, writer, backfill, description
)
values (
    'scratch_events', array[ops.database_kind()], 'timeseries', 'ts', 'pull', 'trades', false,
    'a throw-away table'
);
grant select on kstore.scratch_events to kstore_maintainer;

select is(
    ops.grant_catalog_tables((select writer from roles_here), 'write'),
    1,
    'the writer gets privileges on the new table, and on no other'
);
select results_eq(
    $$
        select p.privileges from roles_here as h
        cross join lateral tap.table_privileges(h.writer) as p
        where p.table_name = 'kstore.scratch_events'
    $$,
    $$values ('INSERT,SELECT')$$,
    'the writer inserts and reads the new table (its rows never change: no update)'
);
select is(
    ops.grant_catalog_tables((select reader from roles_here), 'read'),
    1,
    'the reader gets privileges on the new table'
);
select results_eq(
    $$
        select p.privileges from roles_here as h
        cross join lateral tap.table_privileges(h.reader) as p
        where p.table_name = 'kstore.scratch_events'
    $$,
    $$values ('SELECT')$$,
    'the reader only reads the new table'
);
select is(
    ops.grant_catalog_tables('kstore_maintainer', 'none'),
    1,
    'a role that gets nothing loses what it was granted out of band'
);
select is_empty(
    $$select * from tap.table_privileges('kstore_maintainer') where table_name like 'kstore.%'$$,
    'kstore_maintainer holds nothing on the kstore tables'
);

-- Rows that change after insert (merge 'recent') give the writer update too; a privilege the
-- catalog does not give goes.
update ops.tables set merge = 'recent'
where table_name = 'scratch_events';
do $$
begin
    execute format('grant delete on kstore.scratch_events to %I', tap.writer_role());
end
$$;

select is(
    ops.grant_catalog_tables((select writer from roles_here), 'write'),
    1,
    'a changed catalog row changes the writer''s privileges on that table only'
);
select results_eq(
    $$
        select p.privileges from roles_here as h
        cross join lateral tap.table_privileges(h.writer) as p
        where p.table_name = 'kstore.scratch_events'
    $$,
    $$values ('INSERT,SELECT,UPDATE')$$,
    'the writer updates rows that change, and its stray delete is gone'
);

select throws_ok(
    $$select ops.grant_catalog_tables('kstore_maintainer', 'all')$$,
    'P0001', 'ops.grant_catalog_tables: access is read, write or none, not all',
    'an unknown access is refused'
);

select * from finish();  -- noqa: AM04
rollback;
