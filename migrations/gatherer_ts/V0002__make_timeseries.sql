-- ops.make_timeseries(table, time column): guarantees the table ends up partitioned by time
-- on the chosen storage path, with the same name, columns, keys and indexes on both paths:
-- a hypertable on TimescaleDB; on plain PostgreSQL a table range-partitioned by day with a
-- default partition, so an insert never fails for lack of a partition.
-- Call it right after `create table` (primary key only); create other indexes afterwards.

create function ops.make_timeseries(relation regclass, time_column name)
returns void
language plpgsql as $$
declare
    schema_name name;
    table_name name;
    template name;
    index_name name;
begin
    select n.nspname, c.relname into schema_name, table_name
    from pg_class as c inner join pg_namespace as n on c.relnamespace = n.oid
    where c.oid = relation;
    if ops.storage_path() = 'timescaledb' then
        perform public.create_hypertable(
            relation, public.by_range(time_column), create_default_indexes => false
        );
        insert into ops.timeseries (table_name, time_column) values (relation, time_column);
        return;
    end if;
    template := table_name || '_template';
    execute format('alter table %I.%I rename to %I', schema_name, table_name, template);
    for index_name in
        select i.relname from pg_index as x inner join pg_class as i on x.indexrelid = i.oid
        where x.indrelid = format('%I.%I', schema_name, template)::regclass
    loop
        execute format(
            'alter index %I.%I rename to %I', schema_name, index_name, index_name || '_t'
        );
    end loop;
    execute format(
        'create table %I.%I (like %I.%I including all) partition by range (%I)',
        schema_name, table_name, schema_name, template, time_column
    );
    execute format('drop table %I.%I', schema_name, template);
    execute format(
        'create table %I.%I partition of %I.%I default',
        schema_name, table_name || '_default', schema_name, table_name
    );
    insert into ops.timeseries (table_name, time_column)
    values (format('%I.%I', schema_name, table_name)::regclass, time_column);
end
$$;
