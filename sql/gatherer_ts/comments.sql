-- Comments on the tables only a gatherer's ts database has: its feed gaps (production keeps a
-- merged copy keyed by gatherer), the quarantine, the deduplicator's acknowledgements and the
-- capture runs. Re-runnable; tests/pgtap/common/test_comments.sql fails on a missing comment.

comment on table kstore.feed_gaps is
'Breaks in the feed this gatherer saw (seq jumps, reconnects, dropped subscriptions), and how '
'they were recovered.';
comment on column kstore.feed_gaps.gap_id is 'Gap number on this gatherer (identity).';
comment on column kstore.feed_gaps.gatherer_id is 'Gatherer that detected the gap.';
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

comment on table kstore.quarantine is
'Every frame (or REST book) that failed validation, with its raw bytes and the reason: '
'nothing received is silently dropped.';
comment on column kstore.quarantine.quarantine_id is 'Row number (identity).';
comment on column kstore.quarantine.gatherer_id is 'Gatherer that received it.';
comment on column kstore.quarantine.connection_id is
'WebSocket connection it arrived on, or rest for a REST answer.';
comment on column kstore.quarantine.received_at is 'Gatherer clock when it arrived.';
comment on column kstore.quarantine.reason is 'Why validation refused it (one line).';
comment on column kstore.quarantine.raw is 'The bytes exactly as received.';

comment on table ops.dedup_ack is
'How far the deduplicator has merged each table of this gatherer into production; guarded '
'retention never drops a row it has not acknowledged. Written by kstore_dedup_ack.';
comment on column ops.dedup_ack.table_name is 'Table of schema kstore.';
comment on column ops.dedup_ack.acked_through is
'received_at of the newest merged row (for display).';
comment on column ops.dedup_ack.acked_at is 'When the acknowledgement was written.';
comment on column ops.dedup_ack.acked_xid is
'Every row with xact_id below this is committed in production.';

comment on table ops.capture_runs is
'One row per run of the gatherer process (decision 0015); read by the deduplicator through '
'ops.capture_state.';
comment on column ops.capture_runs.run_id is 'Run number (identity).';
comment on column ops.capture_runs.started_at is 'When the run began capturing.';
comment on column ops.capture_runs.stopped_at is
'When the run stopped after committing every row; null while running or after a crash.';
comment on column ops.capture_runs.stopped_xid is 'Transaction that recorded the stop.';
