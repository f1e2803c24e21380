-- ops.rebase(gatherer, table, since): re-reads a gatherer whose transaction ids restarted
-- (restored into a new cluster, decision 0070), in one transaction: every row it holds that
-- was received at or after `since` (null: every row) is merged again, whatever its
-- transaction id (`on conflict do nothing`, newest-wins for reference rows, so rows already
-- in production stay once), and the cursor moves to the gatherer's horizon read in that same
-- remote snapshot. Rows committed after the snapshot have ids at or above that horizon, so
-- the next ops.pull reads them: nothing is skipped. `kstore rebase --gatherer <id>`.

create or replace function ops.rebase(gatherer_id text, table_name text, since timestamptz)
returns table (rows_read bigint, rows_inserted bigint, next_xid xid8)
language plpgsql as $$
declare
    source_schema name := 'gatherer_' || gatherer_id;
    reference boolean := ops.table_family(table_name) = 'reference';
    newest timestamptz;
begin
    if not table_name = any(ops.pulled_tables()) then
        raise exception 'ops.rebase: % is not a pulled table', table_name;
    end if;
    -- The horizon first: it opens the remote snapshot every later read of this call shares.
    execute format('select horizon from %I.%I', source_schema,
        case when reference then 'rel_xact_horizon' else 'ts_xact_horizon' end) into next_xid;
    perform from ops.dedup_cursors as c
    where c.gatherer_id = rebase.gatherer_id and c.table_name = rebase.table_name for update;
    if not found then
        raise exception 'ops.rebase: no cursor for gatherer % table % (attach it first)',
            gatherer_id, table_name;
    end if;
    execute ops.merge_statement(source_schema, table_name,
        case when reference then 'changed_xid' else 'xact_id' end, true)
    into rows_read, rows_inserted, newest
    using '0'::xid8, '18446744073709551615'::xid8, coalesce(since, '-infinity');
    update ops.dedup_cursors as c set
        next_xid = rebase.next_xid,
        rows_read = c.rows_read + rebase.rows_read,
        rows_inserted = c.rows_inserted + rebase.rows_inserted,
        rows_skipped = c.rows_skipped + rebase.rows_read - rebase.rows_inserted,
        watermark = greatest(c.watermark, coalesce(newest, c.watermark)),
        caught_up = false,
        source_stopped_at = null,
        last_pull_at = now(),
        last_error = null
    where c.gatherer_id = rebase.gatherer_id and c.table_name = rebase.table_name;
    return next;
end
$$;
