-- Comments on the tables only a gatherer's ts database has: its feed gaps (production keeps a
-- merged copy keyed by gatherer), the quarantine, the deduplicator's acknowledgements and the
-- capture runs (the columns feed_gaps shares with production are in sql/common/comments.sql).
-- Re-runnable; tests/pgtap/common/test_comments.sql fails on a missing comment.

comment on table kstore.feed_gaps is
'Breaks in the feed this gatherer saw (seq jumps, reconnects, dropped subscriptions), and how '
'they were recovered.';

comment on table kstore.quarantine is
'Every frame (or REST book) that failed validation, with its raw bytes and the reason: '
'nothing received is silently dropped.';
select ops.comment_columns('kstore.quarantine', array[
    ['quarantine_id', 'Row number (identity).'],
    ['gatherer_id', 'Gatherer that received it.'],
    ['connection_id', 'WebSocket connection it arrived on, or rest for a REST answer.'],
    ['received_at', 'Gatherer clock when it arrived.'],
    ['reason', 'Why validation refused it (one line).'],
    ['raw', 'The bytes exactly as received.']
]);

comment on table ops.dedup_ack is
'How far the deduplicator has merged each table of this gatherer into production; guarded '
'retention never drops a row it has not acknowledged. Written by kstore_dedup_ack.';
select ops.comment_columns('ops.dedup_ack', array[
    ['acked_through', 'received_at of the newest merged row (for display).'],
    ['acked_at', 'When the acknowledgement was written.'],
    ['acked_xid', 'Every row with xact_id below this is committed in production.']
]);

comment on table ops.capture_runs is
'One row per run of the gatherer process (decision 0015); read by the deduplicator through '
'ops.capture_state.';
select ops.comment_columns('ops.capture_runs', array[
    ['run_id', 'Run number (identity).'],
    ['started_at', 'When the run began capturing.'],
    [
        'stopped_at',
        'When the run stopped after committing every row; null while running or after a crash.'
    ],
    ['stopped_xid', 'Transaction that recorded the stop.']
]);

comment on table ops.journal_checkpoints is
'The raw journal''s watermark per gatherer (decision 0036): every frame up to seq has its rows '
'committed; a restart applies the journal''s frames after it again.';
select ops.comment_columns('ops.journal_checkpoints', array[
    ['gatherer_id', 'The gatherer whose journal this is.'],
    ['journal_id', 'JOURNAL_ID of the journal directory the sequence numbers belong to.'],
    ['seq', 'Journal sequence number: every frame up to it is committed (rows and quarantine).'],
    ['received_at', 'Receive time of that frame.'],
    ['state', 'Stream state after that frame: last seq per (connection, sid), channel per sid.'],
    ['checkpointed_at', 'When the watermark was written.']
]);
