-- The table catalog in a time-series database agrees with ops.timeseries, which
-- ops.make_timeseries() fills as it partitions a table: same tables, same time columns.

begin;
select plan(1);

select is_empty(
    $$
        select t.table_name::regclass::text, t.time_column::text from ops.timeseries as t
        except
        select format('kstore.%I', c.table_name), c.time_column::text from ops.catalog as c
        where c.here
    $$,
    'the catalog agrees with ops.timeseries on every time-series table and its time column'
);

select * from finish();  -- noqa: AM04
rollback;
