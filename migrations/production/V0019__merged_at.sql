-- When each row reached production (the deduplicator's commit): replication lag is
-- merged_at - received_at, and the exporter finds rows that arrived after a window's export.
-- Rows already there get -infinity (unknown); the constant default first, because TimescaleDB
-- refuses a volatile default on a hypertable with compression enabled.

alter table kstore.trades add column merged_at timestamptz not null default '-infinity';
alter table kstore.orderbook_deltas add column merged_at timestamptz not null
default '-infinity';
alter table kstore.orderbook_snapshots add column merged_at timestamptz not null
default '-infinity';
alter table kstore.tickers add column merged_at timestamptz not null default '-infinity';

alter table kstore.trades alter column merged_at set default now();
alter table kstore.orderbook_deltas alter column merged_at set default now();
alter table kstore.orderbook_snapshots alter column merged_at set default now();
alter table kstore.tickers alter column merged_at set default now();
