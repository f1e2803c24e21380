-- Dedup cursors are transaction-id horizons of the gatherer (decision 0012): every source row
-- with xact_id < next_xid is merged. watermark keeps the received_at of the newest merged row
-- (lag display); caught_up says the last pull found less than a page.

alter table ops.dedup_cursors add column next_xid xid8 not null default '0';
alter table ops.dedup_cursors add column caught_up boolean not null default false;
alter table ops.dedup_cursors add column rows_skipped bigint not null default 0;
