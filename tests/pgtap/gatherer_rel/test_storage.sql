-- Storage of a gatherer's reference database: reference data is small and mutable, so it lives
-- in ordinary tables on every storage path: no partitioning, no hypertables, no TimescaleDB.

begin;
select plan(5);

select isnt_partitioned('kstore', 'series', 'series is an ordinary table');
select isnt_partitioned('kstore', 'events', 'events is an ordinary table');
select isnt_partitioned('kstore', 'markets', 'markets is an ordinary table');
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
