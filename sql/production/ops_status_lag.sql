-- ops.status_lag(unreachable): the merge lag of every (gatherer, table) dedup cursor, as
-- `kstore status` and the deduplicator's metrics report it (docs/status.md). Lag is the age of
-- the oldest row the gatherer has committed that production has not merged (every row at or
-- above the cursor, read through postgres_fdw), so it grows while the deduplicator is stopped
-- or the gatherer's horizon is held by an open transaction (decision 0012), and is 0 when
-- nothing waits. When the gatherer cannot be read (named in `unreachable`, or the read fails),
-- it is the time since the cursor's last successful pull (lag_source 'last_pull'), null if it
-- never had one. Ages use the gatherer's receive clock for rows and production's for pulls.
-- It runs as its owner (the migrating role, which has a postgres_fdw user mapping), so the
-- roles that watch (analyst, deduplicator, exporter) see true lag without reading gatherers.

create or replace function ops.status_lag(unreachable text[] default '{}')
returns table (
    gatherer_id text, table_name text, lag_s double precision, lag_source text,
    oldest_unmerged timestamptz, read_error text, caught_up boolean, last_pull_at timestamptz,
    rows_read bigint, rows_inserted bigint, last_error text, source_stopped_at timestamptz
)
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    c record;
    failed text [] := unreachable;  -- servers (gatherer_kind) that failed once: not retried
    server text;
begin
    for c in select d.*, ops.table_family(d.table_name) = 'reference' as reference
        from ops.dedup_cursors as d order by d.gatherer_id, d.table_name loop
        server := c.gatherer_id || case when c.reference then '_rel' else '_ts' end;
        oldest_unmerged := null;
        read_error := case when c.gatherer_id = any(failed) or server = any(failed)
            then 'unreachable' end;
        if read_error is null then
            begin
                oldest_unmerged := ops.status_oldest_unmerged(
                    c.gatherer_id, c.table_name, c.reference, c.next_xid);
            exception when others then
                read_error := split_part(sqlerrm, e'\n', 1);
                failed := failed || server;
            end;
        end if;
        lag_source := case when read_error is null then 'rows'
            when c.last_pull_at is not null then 'last_pull' else 'unknown' end;
        lag_s := case lag_source
            when 'rows' then greatest(0, extract(epoch from now() - oldest_unmerged))
            when 'last_pull' then extract(epoch from now() - c.last_pull_at) end;
        lag_s := coalesce(lag_s, case when lag_source = 'rows' then 0 end);
        select c.gatherer_id, c.table_name, c.caught_up, c.last_pull_at, c.rows_read,
            c.rows_inserted, c.last_error, c.source_stopped_at
        into gatherer_id, table_name, caught_up, last_pull_at, rows_read, rows_inserted,
            last_error, source_stopped_at;
        return next;
    end loop;
end
$$;

-- ops.status_oldest_unmerged(gatherer, table, reference, cursor): the earliest receive time
-- (reference rows: change time) among the gatherer's first 1000 committed rows at or above the
-- cursor, in cursor order: the oldest row waiting for the merge, read in bounded time however
-- far behind the merge is. Null when none waits. Sorting is off for the statement, as in
-- ops.pull, so the gatherer sends the rows in its index order and only those cross the wire.

create or replace function ops.status_oldest_unmerged(
    gatherer_id text, table_name text, reference boolean, from_xid xid8
)
returns timestamptz
language plpgsql as $$
declare
    oldest timestamptz;
    sort_setting text := current_setting('enable_sort');
    cursor_column name := case when reference then 'changed_xid' else 'xact_id' end;
begin
    perform set_config('enable_sort', 'off', true);
    execute format(
        'select min(w.t) from (select %1$I as t from %2$I.%3$I where %4$I >= $1 '
        'order by %4$I limit 1000) as w',
        case when reference then 'changed_at' else 'received_at' end,
        'gatherer_' || gatherer_id, table_name, cursor_column
    ) into oldest using from_xid;
    perform set_config('enable_sort', sort_setting, true);
    return oldest;
end
$$;

revoke execute on function ops.status_lag(text[]) from public;
grant execute on function ops.status_lag(text[]) to kstore_analyst, kstore_dedup, kstore_exporter;
revoke execute on function ops.status_oldest_unmerged(text, text, boolean, xid8) from public;
