-- ops.pull(gatherer, table, page_size): merges one page of a gatherer's rows into production in
-- one transaction, and advances that (gatherer, table) cursor in the same transaction.
-- The cursor is a transaction-id horizon (decision 0012): the page holds whole gatherer
-- transactions with ids in [cursor, horizon), where horizon is the gatherer's oldest running
-- transaction, read in the same remote snapshot as the rows. Every row below the horizon is
-- committed and visible, and no later commit can add one, so no row is ever skipped; rows
-- already in production (another gatherer's copy) are skipped by `on conflict`. Running a
-- pull twice is a no-op. Bounds are passed as parameters, so postgres_fdw sends them remote.
-- A horizon behind the cursor (the gatherer's transaction ids went back) is an error, never a
-- silent jump of the cursor over rows. A time-series pull that catches up also records whether
-- the gatherer's newest capture run had stopped with all its rows below the horizon and none
-- written after it (source_stopped_at; decision 0015), read in that same snapshot.

create or replace function ops.pull(gatherer_id text, table_name text, page_size integer)
returns table (rows_read bigint, rows_inserted bigint, next_xid xid8, caught_up boolean)
language plpgsql as $$
declare
    source_schema name := 'gatherer_' || gatherer_id;
    -- reference data (newest version wins) or time series, and its cursor: the table catalog
    reference boolean := ops.table_family(table_name) = 'reference';
    cursor_column name := case when reference then 'changed_xid' else 'xact_id' end;
    horizon xid8;
    start_xid xid8;
    last_xid xid8;
    found bigint;
    newest timestamptz;
    stopped_at timestamptz;
    stopped_xid xid8;
    resumed boolean := false;
    sort_setting text := current_setting('enable_sort');
begin
    if not table_name = any(ops.pulled_tables()) then
        raise exception 'ops.pull: % is not a pulled table', table_name;
    end if;
    execute format('select horizon from %I.%I', source_schema,
        case when reference then 'rel_xact_horizon' else 'ts_xact_horizon' end) into horizon;
    if not reference then
        execute format('select stopped_at, stopped_xid from %I.ts_capture_state', source_schema)
        into stopped_at, stopped_xid;
    end if;
    select c.next_xid into start_xid from ops.dedup_cursors as c
    where c.gatherer_id = pull.gatherer_id and c.table_name = pull.table_name for update;
    if start_xid is null then
        raise exception 'ops.pull: no cursor for gatherer % table % (attach it first)',
            gatherer_id, table_name;
    end if;
    -- A horizon behind the cursor means the gatherer's transaction ids went back (restored
    -- into a new cluster): its new rows would sit below the cursor forever. Refuse loudly;
    -- ops.rebase is the way back (decision 0070).
    if horizon < start_xid then
        raise exception 'ops.pull: gatherer % is at transaction % but its % cursor is at %',
            gatherer_id, horizon, table_name, start_xid
            using hint = format(
                'restored into a new cluster? run `kstore rebase --gatherer %s` '
                '(docs/operations.md)', gatherer_id
            );
    end if;
    -- The page's order must be the gatherer's (its index on the cursor column), so only the
    -- page's rows cross the wire: with a local sort every row up to the horizon would, on every
    -- page of a catch-up. Sorting is off for this statement only, which leaves the planner
    -- no choice but to send the ORDER BY.
    perform set_config('enable_sort', 'off', true);
    execute format(
        'select max(%1$I), count(*) from (select %1$I from %2$I.%3$I '
        'where %1$I >= $1 and %1$I < $2 order by %1$I limit $3) as page',
        cursor_column, source_schema, table_name
    ) into last_xid, found using start_xid, horizon, page_size;
    perform set_config('enable_sort', sort_setting, true);
    caught_up := found < page_size;
    next_xid := case when caught_up then horizon else ops.xid_after(last_xid) end;
    execute ops.merge_statement(source_schema, table_name, cursor_column)
    into rows_read, rows_inserted, newest using start_xid, next_xid;
    -- A row written after the stop means capture went on (a run whose start was not recorded).
    if caught_up and stopped_xid < horizon then
        execute format('select exists (select from %I.%I where %I > $1)',
            source_schema, table_name, cursor_column) into resumed using stopped_xid;
    end if;
    update ops.dedup_cursors as c set
        next_xid = pull.next_xid,
        rows_read = c.rows_read + pull.rows_read,
        rows_inserted = c.rows_inserted + pull.rows_inserted,
        rows_skipped = c.rows_skipped + pull.rows_read - pull.rows_inserted,
        watermark = greatest(c.watermark, coalesce(newest, c.watermark)),
        caught_up = pull.caught_up,
        source_stopped_at = case
            when pull.caught_up and stopped_xid < horizon and not resumed then stopped_at
        end,
        last_pull_at = now(),
        last_error = null
    where c.gatherer_id = pull.gatherer_id and c.table_name = pull.table_name;
    return next;
end
$$;

create or replace function ops.xid_after(xid xid8)
returns xid8
language sql immutable as $$ select (xid::text::numeric + 1)::text::xid8 $$;

-- The insert … select of one page: the columns production and the gatherer share (the
-- gatherer's transaction ids stay behind), `on conflict do nothing` for events, newest-wins
-- upsert for reference rows. Returns rows read, rows inserted or updated, newest receive time.
-- With since_bound, only rows received (observed) at or after $3 (ops.rebase).
-- Rows go in in primary-key order: pulls of different gatherers insert the same keys at the
-- same time, and a common order means one waits for the other instead of deadlocking.
drop function if exists ops.merge_statement(name, text, name);

create or replace function ops.merge_statement(
    source_schema name, table_name text, cursor_column name, since_bound boolean default false
)
returns text
language plpgsql stable as $$
declare
    columns text;
    updates text;
    conflict text;
    newest text;
    key_columns text;
begin
    select
        string_agg(quote_ident(a.attname), ', ' order by a.attnum),
        string_agg(format('%1$I = excluded.%1$I', a.attname), ', ' order by a.attnum)
    into columns, updates
    from pg_attribute as a
    where a.attrelid = format('%I.%I', source_schema, table_name)::regclass
        and a.attnum > 0 and not a.attisdropped
        and a.attname not in ('xact_id', 'changed_xid', 'content_hash', 'changed_at');
    select string_agg(quote_ident(a.attname), ', ' order by k.position)
    into key_columns
    from pg_index as i
    cross join lateral unnest(i.indkey::int2 []) with ordinality as k (attnum, position)
    inner join pg_attribute as a on i.indrelid = a.attrelid and k.attnum = a.attnum
    where i.indrelid = format('kstore.%I', table_name)::regclass and i.indisprimary;
    conflict := case
        when ops.table_family(table_name) = 'reference'
            then format('(%s) do update set %s', key_columns, updates)
        else 'do nothing'
    end;
    newest := case when ops.table_family(table_name) = 'reference'
        then 'observed_at' else 'received_at' end;
    return format(
        'with source as (select %1$s from %2$I.%3$I where %4$I >= $1 and %4$I < $2%8$s), '
        'merged as (insert into kstore.%3$I (%1$s) select %1$s from source order by %7$s '
        'on conflict %5$s returning 1) '
        'select (select count(*) from source), (select count(*) from merged), '
        '(select max(%6$I) from source)',
        columns, source_schema, table_name, cursor_column, conflict, newest, key_columns,
        case when since_bound then format(' and %I >= $3', newest) else '' end
    );
end
$$;

-- ops.table_family(table): the table catalog's family of a table (null for an unknown name).
create or replace function ops.table_family(table_name text)
returns text
language sql stable as $$
    select t.family from ops.tables as t where t.table_name = table_family.table_name
$$;

drop function if exists ops.reference_key(text);

-- ops.pull_feed_gaps(gatherer): the gatherer's recent gaps (two days: resumption and recovery
-- are updates), inserted or brought up to date. Returns the rows changed.
create or replace function ops.pull_feed_gaps(gatherer_id text)
returns bigint
language plpgsql as $$
declare
    changed bigint;
begin
    execute format(
        'insert into kstore.feed_gaps (gatherer_id, gap_id, connection_id, sid, channel, '
        'expected_seq, received_seq, detected_at, recovered_at, recovery, cause, '
        'market_ticker, last_frame_at, resumed_at) '
        'select gatherer_id, gap_id, connection_id, sid, channel, expected_seq, received_seq, '
        'detected_at, recovered_at, recovery, cause, market_ticker, last_frame_at, resumed_at '
        'from %I.feed_gaps where detected_at >= $1 '
        'on conflict (gatherer_id, gap_id) do update set recovered_at = excluded.recovered_at, '
        'recovery = excluded.recovery, resumed_at = excluded.resumed_at '
        'where (feed_gaps.recovered_at, feed_gaps.resumed_at) '
        'is distinct from (excluded.recovered_at, excluded.resumed_at)',
        'gatherer_' || gatherer_id
    ) using now() - interval '2 days';
    get diagnostics changed = row_count;
    return changed;
end
$$;
