-- Tables of a gatherer's reference database: exactly series, events and markets (their columns:
-- reference/test_tables.sql) and the migration history, nothing else.

begin;
select plan(2);

select set_eq(
    $$select * from tap.tables_in('kstore')$$,
    array['series', 'events', 'markets'],
    'kstore holds exactly series, events and markets'
);

select set_eq(
    $$select * from tap.tables_in('ops')$$,
    array['schema_migrations', 'database', 'tables'],
    'ops holds only the migration history and the table catalog'
);

select * from finish();  -- noqa: AM04
rollback;
