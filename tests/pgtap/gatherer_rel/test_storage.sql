-- Storage of a gatherer's reference database: reference data is small and mutable, so it lives
-- in ordinary tables on every storage path (reference/test_tables.sql): no partitioning, no
-- hypertables, no TimescaleDB.

begin;
select plan(2);

select hasnt_extension('timescaledb', 'the reference database does not install TimescaleDB');
select is_empty(
    $$
        select c.oid::regclass
        from pg_class as c
        where c.relnamespace = 'kstore'::regnamespace and (c.relispartition or c.relkind = 'p')
    $$,
    'no partitioned table or partition in kstore'
);

select * from finish();  -- noqa: AM04
rollback;
