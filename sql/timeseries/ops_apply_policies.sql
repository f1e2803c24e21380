-- ops.apply_policies(): makes the storage match ops.table_policies. TimescaleDB: chunk
-- interval and compression settings (only when they differ, so re-running is a no-op).
-- Plain: day partitions from yesterday to premake_days ahead. Returns the number of changes.

create or replace function ops.apply_policies()
returns integer
language plpgsql as $$
declare
    policy record;
    changes integer := 0;
begin
    for policy in select * from ops.table_policies order by table_name::text loop
        if ops.storage_path() = 'timescaledb' then
            changes := changes + ops.apply_timescaledb_policy(policy.table_name);
        else
            changes := changes + ops.premake_partitions(policy.table_name, policy.premake_days);
        end if;
    end loop;
    return changes;
end
$$;

-- Day partitions from yesterday to days_ahead, plus one for every day that has rows waiting in
-- the default partition (late or far-future rows), so retention can reach them.
create or replace function ops.premake_partitions(relation regclass, days_ahead integer)
returns integer
language plpgsql as $$
declare
    days date [];
begin
    execute format(
        'select array_agg(distinct (%I at time zone ''UTC'')::date) from %s',
        (select time_column from ops.timeseries where table_name = relation),
        relation::text || '_default'
    ) into days;
    return (
        select count(*) filter (where ops.partition_day(relation, day))::integer
        from (
            select day::date as day
            from generate_series(
                (now() at time zone 'UTC')::date - 1,
                (now() at time zone 'UTC')::date + days_ahead,
                interval '1 day'
            ) as day
            union
            select unnest(days)
        ) as wanted
    );
end
$$;

create or replace function ops.apply_timescaledb_policy(relation regclass)
returns integer
language plpgsql as $$
declare
    policy ops.table_policies;
    current_segmentby text;
    current_orderby text;
begin
    select * into policy from ops.table_policies where table_name = relation;
    perform public.set_chunk_time_interval(relation, policy.chunk_interval);
    if policy.compress_after is null then
        return 0;
    end if;
    execute 'select segmentby, orderby
             from timescaledb_information.hypertable_compression_settings
             where hypertable = $1'
    into current_segmentby, current_orderby using relation;
    if ops.same_column_list(current_segmentby, policy.compress_segmentby)
        and ops.same_column_list(current_orderby, policy.compress_orderby) then
        return 0;
    end if;
    execute format(
        'alter table %s set (timescaledb.compress, timescaledb.compress_segmentby = %L, '
        'timescaledb.compress_orderby = %L)',
        relation, policy.compress_segmentby, policy.compress_orderby
    );
    return 1;
end
$$;

create or replace function ops.same_column_list(a text, b text)
returns boolean
language sql immutable as $$
    select lower(regexp_replace(a, '\s', '', 'g')) is not distinct from
        lower(regexp_replace(b, '\s', '', 'g'))
$$;
