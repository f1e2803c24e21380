-- ops.partition_day(table, day): guarantees a native partition for one UTC day exists (plain
-- path). Rows of that day waiting in the default partition are moved into it in the same
-- transaction, so none is lost or duplicated. Returns true when it created the partition.

create or replace function ops.partition_day(relation regclass, day date)
returns boolean
language plpgsql as $$
declare
    schema_name name;
    table_name name;
    part_name name;
    time_column name;
    day_start timestamptz := day::timestamp at time zone 'UTC';
    day_end timestamptz := (day + 1)::timestamp at time zone 'UTC';
begin
    select n.nspname, c.relname, t.time_column into schema_name, table_name, time_column
    from ops.timeseries as t
    inner join pg_class as c on t.table_name = c.oid
    inner join pg_namespace as n on c.relnamespace = n.oid
    where t.table_name = relation;
    part_name := table_name || '_p' || to_char(day, 'YYYYMMDD');
    if to_regclass(format('%I.%I', schema_name, part_name)) is not null then
        return false;
    end if;
    execute format(
        'create temp table kstore_moving on commit drop as '
        'with moved as (delete from %I.%I where %I >= $1 and %I < $2 returning *) '
        'select * from moved',
        schema_name, table_name || '_default', time_column, time_column
    ) using day_start, day_end;
    execute format(
        'create table %I.%I partition of %I.%I for values from (%L) to (%L)',
        schema_name, part_name, schema_name, table_name, day_start, day_end
    );
    execute format('insert into %I.%I select * from kstore_moving', schema_name, table_name);
    drop table kstore_moving;
    return true;
end
$$;
