-- When each row reached production (the deduplicator's commit): replication lag is
-- merged_at - received_at, and the exporter finds rows that arrived after a window's export.

alter table kstore.trades add column merged_at timestamptz not null default now();
alter table kstore.orderbook_deltas add column merged_at timestamptz not null default now();
alter table kstore.orderbook_snapshots add column merged_at timestamptz not null default now();
alter table kstore.tickers add column merged_at timestamptz not null default now();
