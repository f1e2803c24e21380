-- ops.lake_oldest_day(relation, time_column): the UTC day of the relation's oldest row (null
-- when it has none), for the first lake plan, reading as little as it can. A time-series table
-- partitioned by that column (day partitions or TimescaleDB chunks, ops.partitions) is probed
-- partition by partition in time order until one holds a row; a partition of at most one UTC
-- day is that day without reading it further, a longer one is scanned for its oldest row; rows
-- before it can only be in the default partition, read through the parent. Any other relation
-- is scanned whole. Security definer: it lists partitions (ops.partitions()), which the exporter
-- cannot read itself; it reads only relations the calling login may read.

create or replace function ops.lake_oldest_day(relation regclass, time_column name)
returns timestamptz
language plpgsql stable
security definer
set search_path = pg_catalog, pg_temp as $$
declare
    day constant interval := interval '24 hours';
    part record;
    oldest timestamptz;
    earlier timestamptz;
begin
    if not has_table_privilege(session_user, relation, 'select') then
        raise exception 'permission denied for %', relation using errcode = '42501';
    end if;
    if exists (
        select from ops.timeseries as t
        where t.table_name = relation and t.time_column = lake_oldest_day.time_column
    ) then
        for part in
            select p.range_start, p.range_end from ops.partitions() as p
            where p.table_name = relation order by p.range_start
        loop
            execute format(
                'select %1$I from %2$s where %1$I >= $1 and %1$I < $2 limit 1', time_column, relation
            ) into oldest using part.range_start, part.range_end;
            continue when oldest is null;
            if part.range_end - part.range_start > day
                or ops.window_start(part.range_start, day) <> part.range_start then
                execute format(
                    'select min(%1$I) from %2$s where %1$I >= $1 and %1$I < $2', time_column, relation
                ) into oldest using part.range_start, part.range_end;
            end if;
            execute format('select min(%1$I) from %2$s where %1$I < $1', time_column, relation)
            into earlier using part.range_start;
            return ops.window_start(least(oldest, earlier), day);
        end loop;
    end if;
    execute format('select min(%I::timestamptz) from %s', time_column, relation) into oldest;
    return ops.window_start(oldest, day);
end
$$;

revoke all on function ops.lake_oldest_day(regclass, name) from public;
grant execute on function ops.lake_oldest_day(regclass, name) to kstore_exporter;
