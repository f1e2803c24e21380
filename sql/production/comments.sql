-- Comments on what only production has: the merge stamp of the time-series rows, the merged
-- feed gaps, the reference history, and the deduplicator's and exporter's control tables.
-- Shared tables are commented in sql/timeseries/ and sql/reference/, the columns feed_gaps
-- shares with the gatherers and merged_at of every time-series table in sql/common/comments.sql
-- (after which this file applies). Re-runnable; tests/pgtap/common/test_comments.sql fails on a
-- table or column without a comment.

-- Here xact_id is production's own transaction, not the gatherer's that the glossary describes.
select ops.comment_columns('kstore.%', array[
    [
        'xact_id',
        'Transaction that wrote the row here (its merge, or the update of a recovered feed gap): '
        'the exporter''s cursor for changed lake windows (decision 0014). Rows older than the '
        'column hold 0 or the transaction that added it.'
    ]
]);

select ops.comment_columns('kstore.trades', array[
    [
        'merged_at',
        'When the row reached production (deduplicator commit); -infinity for rows older than the '
        'column. Replication lag = merged_at - received_at.'
    ]
]);

-- ---------------------------------------------------------------- kstore.feed_gaps

comment on table kstore.feed_gaps is
'Breaks in the feed every gatherer saw (seq jumps, reconnects, dropped subscriptions), '
'merged: one row per (gatherer_id, gap_id), updated '
'when the gatherer marks the gap recovered.';

-- ---------------------------------------------------------------- reference history
-- Each *_history table is keyed by its ticker column and content_hash.

select ops.comment_columns('kstore.%_history', array[
    ['series_ticker', 'Series ticker.'],
    ['event_ticker', 'Event ticker.'],
    ['market_ticker', 'Market ticker.'],
    ['content_hash', 'md5 of raw; with the ticker, the key.'],
    ['updated_time', 'Exchange update time of the version.'],
    ['observed_at', 'Gatherer clock when it was fetched.'],
    ['raw', 'The REST object exactly as sent.']
]);

comment on table kstore.series_history is
'Every distinct version of a series any gatherer delivered, once, current or not.';
comment on table kstore.events_history is
'Every distinct version of an event any gatherer delivered, once, current or not.';
comment on table kstore.markets_history is
'Every distinct version of a market any gatherer delivered, once, current or not.';

-- ---------------------------------------------------------------- ops: dedup and export

comment on table ops.dedup_cursors is
'Where the deduplicator stands per (gatherer_id, table_name) (decision 0012): advanced in the '
'same transaction as the rows it covers.';
select ops.comment_columns('ops.dedup_cursors', array[
    ['gatherer_id', 'Gatherer pulled from.'],
    ['watermark', 'received_at of the newest merged row (display only; the cursor is next_xid).'],
    ['rows_read', 'Rows read from the gatherer, in total.'],
    ['rows_inserted', 'Rows new to production, in total.'],
    ['last_pull_at', 'When the last pull finished.'],
    ['last_error', 'Last pull error, one line; null after success.'],
    [
        'next_xid',
        'Transaction-id horizon on the gatherer: every row with xact_id below it is merged.'
    ],
    ['caught_up', 'The last pull found less than a page.'],
    ['rows_skipped', 'Rows read that production already held (duplicates), in total.'],
    [
        'source_stopped_at',
        'Stop of the gatherer''s capture run once all of it is merged; null while it captures '
        '(decision 0015).'
    ]
]);

comment on table ops.export_manifest is
'One row per lake window (decision 0014); exported only once verified_at is set (the object '
'was read back and matched).';
select ops.comment_columns('ops.export_manifest', array[
    ['table_name', 'Table or dbt model exported.'],
    ['window_start', 'Start of the window (inclusive).'],
    ['window_end', 'End of the window (exclusive).'],
    ['row_count', 'Rows written to the object.'],
    ['byte_count', 'Size of the object in bytes.'],
    ['object_key', 'Key of the Parquet object under lake.url.'],
    ['checksum', 'Checksum of the object as written.'],
    ['min_ts', 'Smallest time-column value in the object.'],
    ['max_ts', 'Largest time-column value in the object.'],
    ['exported_at', 'When the object was written.'],
    [
        'verified_at',
        'When the object was read back and matched production; null: not (or no longer) verified.'
    ]
]);
select ops.comment_columns('ops.export_manifest', array[
    [
        'layout_version',
        'Lake layout the object was written in (kstore.lake.layout, decision 0040): 1 '
        'date=/hour=HH folders and uuid columns, 2 dt=/hour=H folders and identifiers as strings.'
    ]
]);

comment on table ops.export_cursors is
'How far the exporter has looked for rows that change exported windows, per table.';
select ops.comment_columns('ops.export_cursors', array[
    ['next_xid', 'Every production row with xact_id below it has been seen by the exporter.'],
    ['scanned_at', 'When the cursor last advanced.']
]);
