-- ops.partitions(): every time partition of every time-series table with its range, on either
-- storage path (native day partitions, or TimescaleDB chunks). The default partition is not a
-- time partition and is never listed, so retention can never drop it.

create or replace function ops.partitions()
returns table (
    table_name regclass,
    partition_name regclass,
    range_start timestamptz,
    range_end timestamptz,
    is_compressed boolean
)
language plpgsql stable as $$
begin
    if ops.storage_path() = 'timescaledb' then
        return query execute
            'select format(''%I.%I'', c.hypertable_schema, c.hypertable_name)::regclass,
                    format(''%I.%I'', c.chunk_schema, c.chunk_name)::regclass,
                    c.range_start, c.range_end, c.is_compressed
             from timescaledb_information.chunks as c
             inner join ops.timeseries as t
                 on t.table_name = format(''%I.%I'', c.hypertable_schema, c.hypertable_name)::regclass';
        return;
    end if;
    return query
    select t.table_name, i.inhrelid::regclass, r.range_start, r.range_end, false
    from ops.timeseries as t
    inner join pg_inherits as i on t.table_name = i.inhparent
    cross join lateral (
        select
            (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz
                as range_start,
            (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
                as range_end
        from pg_class as c where c.oid = i.inhrelid
    ) as r
    where r.range_start is not null;
end
$$;
