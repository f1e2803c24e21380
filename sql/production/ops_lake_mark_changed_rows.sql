-- ops.lake_mark_changed_rows(dataset, relation, time_column, grain, prefix): re-opens the
-- windows holding rows that reached `relation` since the last look (late rows of a closed
-- window, a dead gatherer coming back, a backfill), by the transaction-id cursor in
-- ops.export_cursors (decision 0014): every row with xact_id below the new cursor was looked
-- at. The marks and the new cursor commit together. Returns the windows re-opened or planned.
-- A cursor ahead of the server's transaction ids means they restarted (production restored
-- logically into a new server): every row is looked at once again, with a warning.

create or replace function ops.lake_mark_changed_rows(
    dataset text, relation regclass, time_column name, grain text, prefix text
)
returns integer
language plpgsql as $$
declare
    -- Read before the scan: every row below it is committed, so the scan sees it.
    horizon xid8 := pg_snapshot_xmin(pg_current_snapshot());
    previous xid8;
    frontier timestamptz;
    touched timestamptz[];
    marked integer := 0;
begin
    select c.next_xid into previous
    from ops.export_cursors as c where c.table_name = dataset
    for update;
    if previous > horizon then
        raise warning 'export cursor of % is at transaction % but the server at %: ids restarted '
        '(a restore into a new server?); every window of % is checked again',
        dataset, previous, horizon, dataset;
        previous := '0'::xid8;
    end if;
    select max(m.window_end) into frontier
    from ops.export_manifest as m where m.table_name = dataset;
    if previous is not null or frontier is not null then
        execute format(
            'select array_agg(distinct ops.window_start(%I::timestamptz, $2)) from %s'
            ' where xact_id >= $1',
            time_column, relation
        ) into touched using coalesce(previous, '0'::xid8), ops.lake_step(grain);
        marked := ops.lake_reopen(dataset, grain, prefix, touched, frontier);
    end if;
    insert into ops.export_cursors as c (table_name, next_xid, scanned_at)
    values (dataset, horizon, now())
    on conflict (table_name) do update
        set next_xid = excluded.next_xid, scanned_at = excluded.scanned_at;
    return marked;
end
$$;
