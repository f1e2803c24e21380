-- Comments on what only production has: the merge stamp of the time-series rows, the merged
-- feed gaps, the reference history, and the deduplicator's and exporter's control tables.
-- Shared tables are commented in sql/timeseries/ and sql/reference/. Re-runnable;
-- tests/pgtap/common/test_comments.sql fails on a table or column without a comment.

comment on column kstore.trades.merged_at is
'When the row reached production (deduplicator commit); -infinity for rows older than the '
'column. Replication lag = merged_at - received_at.';
comment on column kstore.orderbook_deltas.merged_at is
'When the row reached production (deduplicator commit); -infinity: before the column existed.';
comment on column kstore.orderbook_snapshots.merged_at is
'When the row reached production (deduplicator commit); -infinity: before the column existed.';
comment on column kstore.tickers.merged_at is
'When the row reached production (deduplicator commit); -infinity: before the column existed.';

-- ---------------------------------------------------------------- kstore.feed_gaps

comment on table kstore.feed_gaps is
'Breaks in the feed every gatherer saw (seq jumps, reconnects, dropped subscriptions), '
'merged: one row per (gatherer_id, gap_id), updated '
'when the gatherer marks the gap recovered.';
comment on column kstore.feed_gaps.gatherer_id is 'Gatherer that detected the gap.';
comment on column kstore.feed_gaps.gap_id is 'Gap number on that gatherer.';
comment on column kstore.feed_gaps.connection_id is 'WebSocket connection of the gap.';
comment on column kstore.feed_gaps.sid is 'Subscription id whose seq jumped.';
comment on column kstore.feed_gaps.channel is 'Channel of the subscription (orderbook_delta).';
comment on column kstore.feed_gaps.expected_seq is
'The seq that should have come next; null for a break that is not a seq jump.';
comment on column kstore.feed_gaps.received_seq is
'The seq that came instead; null for a break that is not a seq jump.';
comment on column kstore.feed_gaps.detected_at is 'Gatherer clock when the break was seen.';
comment on column kstore.feed_gaps.recovered_at is
'When every book affected had a fresh snapshot (other channels: subscribed again); '
'null while open.';
comment on column kstore.feed_gaps.recovery is
'get_snapshot (snapshots asked for) or resubscribe (a new subscription); null while open.';
comment on column kstore.feed_gaps.cause is
'What broke the feed: seq_jump, silence (no frame for the silence timeout), closed (the server '
'closed the connection), error (the connection failed), buffer_overflow (error 25), '
'unknown_sid (error 7).';
comment on column kstore.feed_gaps.market_ticker is
'The order book affected; null for a seq jump (every market of the sid) or another channel.';
comment on column kstore.feed_gaps.last_frame_at is
'Gatherer clock of the last frame received on the connection before the break.';
comment on column kstore.feed_gaps.resumed_at is
'Gatherer clock of the first frame after the break (new connection or new subscription).';

-- ---------------------------------------------------------------- reference history

comment on table kstore.series_history is
'Every distinct version of a series any gatherer delivered, once, current or not.';
comment on column kstore.series_history.series_ticker is 'Series ticker.';
comment on column kstore.series_history.content_hash is 'md5 of raw; with the ticker, the key.';
comment on column kstore.series_history.updated_time is 'Exchange update time of the version.';
comment on column kstore.series_history.observed_at is 'Gatherer clock when it was fetched.';
comment on column kstore.series_history.recorded_at is 'When production recorded it.';
comment on column kstore.series_history.raw is 'The REST object exactly as sent.';

comment on table kstore.events_history is
'Every distinct version of an event any gatherer delivered, once, current or not.';
comment on column kstore.events_history.event_ticker is 'Event ticker.';
comment on column kstore.events_history.content_hash is 'md5 of raw; with the ticker, the key.';
comment on column kstore.events_history.updated_time is 'Exchange update time of the version.';
comment on column kstore.events_history.observed_at is 'Gatherer clock when it was fetched.';
comment on column kstore.events_history.recorded_at is 'When production recorded it.';
comment on column kstore.events_history.raw is 'The REST object exactly as sent.';

comment on table kstore.markets_history is
'Every distinct version of a market any gatherer delivered, once, current or not.';
comment on column kstore.markets_history.market_ticker is 'Market ticker.';
comment on column kstore.markets_history.content_hash is 'md5 of raw; with the ticker, the key.';
comment on column kstore.markets_history.updated_time is 'Exchange update time of the version.';
comment on column kstore.markets_history.observed_at is 'Gatherer clock when it was fetched.';
comment on column kstore.markets_history.recorded_at is 'When production recorded it.';
comment on column kstore.markets_history.raw is 'The REST object exactly as sent.';

-- ---------------------------------------------------------------- ops: dedup and export

comment on table ops.dedup_cursors is
'Where the deduplicator stands per (gatherer_id, table_name) (decision 0012): advanced in the '
'same transaction as the rows it covers.';
comment on column ops.dedup_cursors.gatherer_id is 'Gatherer pulled from.';
comment on column ops.dedup_cursors.table_name is 'Table of schema kstore.';
comment on column ops.dedup_cursors.watermark is
'received_at of the newest merged row (display only; the cursor is next_xid).';
comment on column ops.dedup_cursors.rows_read is 'Rows read from the gatherer, in total.';
comment on column ops.dedup_cursors.rows_inserted is 'Rows new to production, in total.';
comment on column ops.dedup_cursors.last_pull_at is 'When the last pull finished.';
comment on column ops.dedup_cursors.last_error is 'Last pull error, one line; null after success.';
comment on column ops.dedup_cursors.next_xid is
'Transaction-id horizon on the gatherer: every row with xact_id below it is merged.';
comment on column ops.dedup_cursors.caught_up is 'The last pull found less than a page.';
comment on column ops.dedup_cursors.rows_skipped is
'Rows read that production already held (duplicates), in total.';
comment on column ops.dedup_cursors.source_stopped_at is
'Stop of the gatherer''s capture run once all of it is merged; null while it captures '
'(decision 0015).';

comment on table ops.export_manifest is
'One row per lake window (decision 0014); exported only once verified_at is set (the object '
'was read back and matched).';
comment on column ops.export_manifest.table_name is 'Table or dbt model exported.';
comment on column ops.export_manifest.window_start is 'Start of the window (inclusive).';
comment on column ops.export_manifest.window_end is 'End of the window (exclusive).';
comment on column ops.export_manifest.row_count is 'Rows written to the object.';
comment on column ops.export_manifest.byte_count is 'Size of the object in bytes.';
comment on column ops.export_manifest.object_key is 'Key of the Parquet object under lake.url.';
comment on column ops.export_manifest.checksum is 'Checksum of the object as written.';
comment on column ops.export_manifest.min_ts is 'Smallest time-column value in the object.';
comment on column ops.export_manifest.max_ts is 'Largest time-column value in the object.';
comment on column ops.export_manifest.exported_at is 'When the object was written.';
comment on column ops.export_manifest.verified_at is
'When the object was read back and matched production; null: not (or no longer) verified.';

comment on table ops.export_cursors is
'How far the exporter has looked for rows that change exported windows, per table.';
comment on column ops.export_cursors.table_name is 'Table of schema kstore.';
comment on column ops.export_cursors.next_xid is
'Every production row with xact_id below it has been seen by the exporter.';
comment on column ops.export_cursors.scanned_at is 'When the cursor last advanced.';
