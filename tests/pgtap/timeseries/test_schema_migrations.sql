-- ops.schema_migrations in every time-series database: the time-series foundation is migrated
-- first, as versions 1 to 7, on a gatherer and in production alike (production's are the
-- gatherer's files, its roles aside). The versions after it: <kind>/test_schema_migrations.sql.

begin;
select plan(1);

select results_eq(
    $$select version, name from ops.schema_migrations where version <= 7 order by version$$,
    $$
        values
            (1, 'ops_foundation'),
            (2, 'make_timeseries'),
            (3, 'roles'),
            (4, 'trades'),
            (5, 'orderbook_deltas'),
            (6, 'orderbook_snapshots'),
            (7, 'tickers')
    $$,
    'the time-series foundation is migrated first, as versions 1 to 7'
);

select * from finish();  -- noqa: AM04
rollback;
