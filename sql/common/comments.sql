-- Comments on every table and column of kstore and ops, so psql's \d+ and dbt docs say what they
-- hold (tests/pgtap/common/test_comments.sql fails on one without). Column meanings are data: a
-- glossary below, written once per column name and applied to every table that has the column,
-- then per-table meanings where a column means something specific there (sql/<folder>/comments.sql,
-- applied after this file, override it). A new column: one [column, comment] line, in the
-- glossary when it means the same in every table, else in its table's block. Re-runnable.

-- ops.comment_columns(tables, comments): every table or view of kstore and ops (not a partition)
-- whose schema-qualified name is like `tables` ('%' all of them, 'kstore.%_history',
-- 'kstore.trades') gets, on each column of the [column, comment] pairs of `comments` that it
-- has, that comment. Tables and columns absent from this database are skipped. Returns the number
-- of comments set. A view's columns are commented in the file that defines it, after it.
-- Defined here rather than in its own file because this file is applied first and uses it.
create or replace function ops.comment_columns(tables text, comments text[])
returns integer
language plpgsql as $$
declare
    target record;
    changes integer := 0;
begin
    for target in
        select n.nspname, c.relname, a.attname, comments[i.n][2] as description
        from generate_subscripts(comments, 1) as i (n)
        inner join pg_attribute as a on comments[i.n][1] = a.attname
        inner join pg_class as c on a.attrelid = c.oid
        inner join pg_namespace as n on c.relnamespace = n.oid
        where n.nspname in ('kstore', 'ops') and c.relkind in ('r', 'p', 'v') and not c.relispartition
            and not a.attisdropped and format('%s.%s', n.nspname, c.relname) like tables
        order by i.n, n.nspname, c.relname
    loop
        execute format(
            'comment on column %I.%I.%I is %L',
            target.nspname, target.relname, target.attname, target.description
        );
        changes := changes + 1;
    end loop;
    return changes;
end
$$;

revoke all on function ops.comment_columns(text, text[]) from public;  -- the owner's business

-- ops.column_comments(source): the [column, comment] pairs of the commented columns of a table,
-- for ops.comment_columns: a view's columns that pass a table's through keep its comments.
create or replace function ops.column_comments(source regclass)
returns text[]
language sql stable as $$
    select coalesce(array(
        select array[a.attname::text, col_description(a.attrelid, a.attnum)]
        from pg_attribute as a
        where
            a.attrelid = source and a.attnum > 0 and not a.attisdropped
            and col_description(a.attrelid, a.attnum) is not null
        order by a.attnum
    ), '{}')
$$;

revoke all on function ops.column_comments(regclass) from public;

-- ---------------------------------------------------------------- glossary: every table
-- Time-series conventions: exchange times are timestamptz (UTC, microseconds) from the frame's
-- ts_ms (Unix ms); received_at is the gatherer's clock.

select ops.comment_columns('%', array[
    ['received_at', 'Gatherer clock when the frame arrived (not exchange time).'],
    ['sending_ts', 'Time the exchange sent the frame (sending_ts_ms), when present.'],
    ['gatherer_id', 'Gatherer that captured the row (in production: the first one merged).'],
    ['xact_id', 'Transaction that inserted the row: the deduplicator''s cursor (decision 0012).'],
    [
        'changed_xid',
        'Transaction that last changed the row: the deduplicator''s cursor (decision 0012).'
    ],
    ['changed_at', 'Local time the row last changed (set by ops.keep_newest).'],
    [
        'merged_at',
        'When the row reached production (deduplicator commit); -infinity: before the column '
        'existed.'
    ],
    ['recorded_at', 'When production recorded it.'],
    ['content_hash', 'md5 of raw: identifies a version.'],
    ['raw', 'The REST object exactly as sent (jsonb).'],
    ['title', 'Title as sent.'],
    ['category', 'Category as sent.'],
    ['table_name', 'Table of schema kstore.'],
    ['singleton', 'Always true: the table has one row.']
]);

-- ---------------------------------------------------------------- kstore.feed_gaps
-- In a gatherer's ts database and, merged, in production (their table comments say which).

select ops.comment_columns('kstore.feed_gaps', array[
    ['gap_id', 'Gap number on the gatherer that detected it (identity there).'],
    ['gatherer_id', 'Gatherer that detected the gap.'],
    ['connection_id', 'WebSocket connection of the gap.'],
    [
        'sid',
        'Subscription id whose seq jumped, or that the break interrupted; 0 when no '
        || 'subscription held the book (not_subscribed).'
    ],
    ['channel', 'Channel of the subscription.'],
    [
        'expected_seq',
        'The seq that should have come next; null for a break that is not a seq jump.'
    ],
    ['received_seq', 'The seq that came instead; null for a break that is not a seq jump.'],
    ['detected_at', 'Gatherer clock when the break was seen.'],
    [
        'recovered_at',
        'When every book affected had a fresh snapshot (other channels: subscribed again); '
        || 'null while open.'
    ],
    [
        'recovery',
        'get_snapshot (snapshots asked for), resubscribe (a new subscription) or subscribe (the '
        || 'first snapshot of a book not_subscribed before); null while open.'
    ],
    [
        'cause',
        'What broke the feed: seq_jump, silence (no frame for the silence timeout), closed (the '
        || 'server closed the connection), error (the connection failed), buffer_overflow '
        || '(error 25), unknown_sid (error 7), not_subscribed (a market listed unseen traded '
        || 'before its book was subscribed, decision 0085).'
    ],
    [
        'market_ticker',
        'The order book affected; null for a seq jump (every market of the sid) or another channel.'
    ],
    [
        'last_frame_at',
        'Gatherer clock of the last frame received on the connection before the break; for '
        || 'not_subscribed the market''s created_time (null: unknown).'
    ],
    [
        'resumed_at',
        'Gatherer clock of the first frame after the break (new connection or new subscription).'
    ]
]);

-- ---------------------------------------------------------------- ops: control tables

comment on table ops.schema_migrations is
'Every migration applied to this database, with its checksum: an edited applied file is '
'refused (decision 0006).';
select ops.comment_columns('ops.schema_migrations', array[
    ['version', 'The V#### number of the migration file.'],
    ['name', 'The name part of the file (V####__name.sql).'],
    ['sha256', 'sha256 of the file as applied.'],
    ['applied_at', 'When it was applied.']
]);

comment on table ops.database is 'Which kind of database this is (one row).';
select ops.comment_columns('ops.database', array[
    ['kind', 'gatherer_ts, gatherer_rel or production.']
]);

comment on table ops.tables is
'The table catalog (decision 0016): every table of schema kstore and what the components do '
'with it; rows from sql/common/ops_tables.sql, read through the view ops.catalog.';
select ops.comment_columns('ops.tables', array[
    ['homes', 'The database kinds that hold the table.'],
    ['family', 'timeseries, reference, history or log.'],
    ['time_column', 'The column partitions, lake windows and retention cut on.'],
    [
        'merge',
        'How production gets the gatherers'' rows: pull (by cursor), recent (re-read), null.'
    ],
    ['writer', 'The gatherer writer pool (or the registry) writing it.'],
    ['lake_grain', 'hour or day windows, or a daily snapshot, in the lake.'],
    ['lake_prefix', 'Folder of the lake the table is exported under.'],
    ['backfill', 'Whether kstore backfill copies it between databases.'],
    ['description', 'One line on what the table holds.']
]);
