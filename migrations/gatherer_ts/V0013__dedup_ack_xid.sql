-- The deduplicator acknowledges by transaction id: every row with xact_id < acked_xid is
-- committed in production. Retention reads this (acked_through becomes the received_at of the
-- newest merged row, for display).

alter table ops.dedup_ack add column acked_xid xid8;
