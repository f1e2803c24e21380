-- ops.apply_policies(): makes the storage match ops.effective_policies (ops.table_policies,
-- compression settings the policy leaves null derived from the primary key). TimescaleDB: chunk
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
    policy ops.effective_policies;
    current_segmentby text;
    current_orderby text;
begin
    select * into policy from ops.effective_policies where table_name = relation;
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

-- Whether two column lists are the same, spacing and case aside; '' (none) is null (none).
create or replace function ops.same_column_list(a text, b text)
returns boolean
language sql immutable as $$
    select nullif(lower(regexp_replace(a, '\s', '', 'g')), '') is not distinct from
        nullif(lower(regexp_replace(b, '\s', '', 'g')), '')
$$;

-- ops.compression_defaults(table, declared segmentby): the compression settings of a policy
-- that leaves them null, derived from the primary key as TimescaleDB derives its own defaults
-- from a unique index: segment by the key's leading column (none when that is the time
-- column); order by the time column descending, then the key's other columns in key order,
-- minus the segmentby columns, so each segment is stored in key order. A declared segmentby
-- ('' is none) is kept, and the order follows it.
create or replace function ops.compression_defaults(relation regclass, declared_segmentby text)
returns table (segmentby text, orderby text)
language sql stable as $$
    with key_columns as (
        -- names as text in the default collation, like the declared lists they meet
        select a.attname::text collate "default" as column_name, k.position
        from pg_index as i
        cross join lateral unnest(i.indkey) with ordinality as k (attnum, position)
        inner join pg_attribute as a on i.indrelid = a.attrelid and k.attnum = a.attnum
        where i.indrelid = relation and i.indisprimary
    ),

    series as (
        select
            t.time_column::text collate "default" as time_column,
            coalesce(
                declared_segmentby,
                (
                    select quote_ident(k.column_name) from key_columns as k
                    where k.position = 1 and k.column_name <> t.time_column
                ),
                ''
            ) as segment_list
        from ops.timeseries as t
        where t.table_name = relation
    )

    select
        s.segment_list as segmentby,
        concat_ws(
            ', ',
            quote_ident(s.time_column) || ' desc',
            (
                select string_agg(quote_ident(k.column_name), ', ' order by k.position)
                from key_columns as k
                where k.column_name <> s.time_column
                    and quote_ident(k.column_name) <> all(
                        array(select btrim(c) from unnest(string_to_array(s.segment_list, ',')) as c)
                    )
            )
        ) as orderby
    from series as s
$$;

-- ops.effective_policies: the policy of every time-series table as ops.apply_policies() applies
-- it, ops.table_policies with the compression settings it leaves null derived
-- (ops.compression_defaults).
create or replace view ops.effective_policies as
select
    p.table_name,
    p.chunk_interval,
    p.compress_after,
    d.segmentby as compress_segmentby,
    coalesce(p.compress_orderby, d.orderby) as compress_orderby,
    p.retain_for,
    p.premake_days
from ops.table_policies as p
cross join lateral ops.compression_defaults(p.table_name, p.compress_segmentby) as d;

comment on view ops.effective_policies is
'The storage policy of every time-series table as ops.apply_policies() applies it: '
'ops.table_policies with the compression settings it leaves null derived from the key.';
-- The columns it passes through keep the comments of ops.table_policies.
select ops.comment_columns('ops.effective_policies', ops.column_comments('ops.table_policies'));
select ops.comment_columns('ops.effective_policies', array[
    [
        'compress_segmentby',
        'Compression segmentby columns, declared or derived from the key (TimescaleDB only).'
    ],
    [
        'compress_orderby',
        'Compression orderby columns, declared or derived: the time column, then the rest of '
        'the key (TimescaleDB only).'
    ]
]);
