-- ops.maintain(now): the guarded maintenance pass, safe to run at any time and repeatedly.
-- Premakes partitions (plain), compresses chunks past their delay (TimescaleDB; also those
-- past retention that the guard keeps), and drops whole partitions/chunks past the retention
-- horizon only where ops.retention_safe() (defined per tier: merged by the deduplicator, or
-- verified in the lake) says every row is safe.
-- Returns one row per action taken or withheld. Runs as its owner for kstore_maintainer;
-- as_of (for tests and catch-up) may be in the past, never in the future.

create or replace function ops.maintain(as_of timestamptz default now())
returns table (table_name text, action text, object_name text, detail text)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp as $$
declare
    part record;
begin
    if as_of > now() then
        raise exception 'ops.maintain: as_of % is in the future', as_of;
    end if;
    perform ops.apply_policies();
    for part in
        select p.*, tp.compress_after, tp.retain_for
        from ops.partitions() as p
        inner join ops.table_policies as tp on p.table_name = tp.table_name
        order by p.table_name::text, p.range_start
    loop
        table_name := part.table_name::text;
        object_name := part.partition_name::text;
        if part.retain_for is not null and part.range_end <= as_of - part.retain_for then
            if ops.retention_safe(part.table_name, part.partition_name, part.range_start, part.range_end) then
                execute format('drop table %s', part.partition_name);
                action := 'dropped';
                detail := format('older than %s', part.retain_for);
                return next;
                continue;
            end if;
            action := 'kept';
            detail := 'past retention but not yet safe (unmerged or unverified rows)';
            return next;
        end if;
        -- A chunk kept by the retention guard is compressed like any other old chunk.
        if part.compress_after is not null and not part.is_compressed
            and ops.storage_path() = 'timescaledb'
            and part.range_end <= as_of - part.compress_after then
            perform public.compress_chunk(part.partition_name, if_not_compressed => true);
            action := 'compressed';
            detail := format('older than %s', part.compress_after);
            return next;
        end if;
    end loop;
end
$$;

revoke all on function ops.maintain(timestamptz) from public;
grant execute on function ops.maintain(timestamptz) to kstore_maintainer;
