-- The table catalog's rows (decision 0016): every table of the `kstore` schema, once, with
-- what the components do with it. Adding a dataset is a migration that creates the table, one
-- row here, and its dbt model; tests/pgtap/common/test_table_catalog.sql fails on a table
-- without a row, or a row without its table. Re-runnable: the rows are replaced as a whole.
--   homes        the database kinds that hold the table
--   family       timeseries (exchange events, merged by transaction-id cursor), reference
--                (mutable, newest version wins), history (append-only versions), log (records of
--                the capture itself)
--   time_column  the column partitions, lake windows and retention cut on
--   merge        how production gets the gatherers' rows: pull (ops.pull, cursor), recent
--                (ops.pull_feed_gaps: re-read a recent span, rows are updated), null (not merged)
--   writer       the gatherer writer pool that writes it (reference: the registry)
--   lake_grain   hour|day windows or a daily snapshot in the lake, under lake_prefix (history
--                and feed gaps too, decision 0046: production gives them xact_id so changed
--                windows are found; ops tables such as reconciliation results are listed in
--                kstore.lake.windows.OPS_DATASETS, as the catalog names kstore tables only)
--   backfill     whether `kstore backfill` copies it between databases

delete from ops.tables;

insert into ops.tables (
    table_name, homes, family, time_column, merge, writer, lake_grain, lake_prefix, backfill,
    description
)
values
(
    'trades', '{gatherer_ts,production}', 'timeseries', 'ts', 'pull', 'trades',
    'hour', 'raw/trades', true, 'every public trade, once'
),
(
    'orderbook_deltas', '{gatherer_ts,production}', 'timeseries', 'ts', 'pull', 'orderbook',
    'hour', 'raw/orderbook_deltas', true, 'every order-book change'
),
(
    'orderbook_snapshots', '{gatherer_ts,production}', 'timeseries', 'captured_at', 'pull',
    'orderbook', 'day', 'raw/orderbook_snapshots', true,
    'full books seen by one gatherer (WebSocket or REST): baselines for its deltas'
),
(
    'tickers', '{gatherer_ts,production}', 'timeseries', 'ts', 'pull', 'tickers',
    'hour', 'raw/tickers', true, 'market ticker updates'
),
(
    'series', '{gatherer_rel,production}', 'reference', 'changed_at', 'pull', 'registry',
    'snapshot', 'raw/series', false, 'series, newest version'
),
(
    'events', '{gatherer_rel,production}', 'reference', 'changed_at', 'pull', 'registry',
    'snapshot', 'raw/events', false, 'events, newest version'
),
(
    'markets', '{gatherer_rel,production}', 'reference', 'changed_at', 'pull', 'registry',
    'snapshot', 'raw/markets', false, 'markets, newest version'
),
(
    'series_history', '{production}', 'history', 'recorded_at', null, null,
    'day', 'raw/series_history', false, 'every distinct version of a series'
),
(
    'events_history', '{production}', 'history', 'recorded_at', null, null,
    'day', 'raw/events_history', false, 'every distinct version of an event'
),
(
    'markets_history', '{production}', 'history', 'recorded_at', null, null,
    'day', 'raw/markets_history', false, 'every distinct version of a market'
),
(
    'feed_gaps', '{gatherer_ts,production}', 'log', 'detected_at', 'recent', 'gaps',
    'day', 'raw/feed_gaps', false, 'sequence gaps a gatherer detected, and their recovery'
),
(
    'quarantine', '{gatherer_ts}', 'log', 'received_at', null, 'trades',
    null, null, false, 'frames and rows that failed validation, with their raw bytes'
);

-- ops.catalog: the rows above with what the database itself knows: the primary key (the
-- conflict target of every merge and write), the merge cursor column, whether the table
-- belongs in this database, and whether it exists.
drop view if exists ops.catalog;
create view ops.catalog as
select
    t.table_name,
    t.homes,
    t.family,
    t.time_column,
    array(
        select a.attname
        from pg_index as i
        cross join lateral unnest(i.indkey) with ordinality as k (attnum, position)
        inner join pg_attribute as a on i.indrelid = a.attrelid and k.attnum = a.attnum
        where i.indrelid = c.oid and i.indisprimary
        order by k.position
    ) as key_columns,
    case t.family when 'timeseries' then 'xact_id' when 'reference' then 'changed_xid' end
        as cursor_column,
    t.merge,
    t.writer,
    t.lake_grain,
    t.lake_prefix,
    t.backfill,
    t.description,
    ops.database_kind() = any(t.homes) as here,
    c.oid is not null as present
from ops.tables as t
left join pg_class as c on to_regclass(format('kstore.%I', t.table_name)) = c.oid;

comment on view ops.catalog is
'The table catalog as components read it (decision 0016): ops.tables rows with the primary key, '
'the merge cursor column, and whether the table belongs in and exists in this database.';
-- The columns it passes through keep the comments of ops.tables (sql/common/comments.sql).
select ops.comment_columns('ops.catalog', ops.column_comments('ops.tables'));
select ops.comment_columns('ops.catalog', array[
    [
        'key_columns',
        'Primary key columns in key order, read from the table here: the conflict target of '
        'every write and merge; empty when the table is absent.'
    ],
    [
        'cursor_column',
        'Column the deduplicator''s cursor follows: xact_id (timeseries), changed_xid '
        '(reference), null otherwise.'
    ],
    ['here', 'True when this database''s kind is one of homes.'],
    ['present', 'True when kstore.<table_name> exists in this database.']
]);

do $$
declare
    role_name name;
begin
    for role_name in
        select rolname from pg_roles
        where rolname like 'kstore\_%' and has_schema_privilege(rolname, 'ops', 'usage')
    loop
        execute format('grant select on ops.database, ops.tables, ops.catalog to %I', role_name);
    end loop;
end
$$;
