-- Every time-series row records the id of the transaction that inserted it. The deduplicator's
-- cursor is a transaction-id horizon (decision 0012): rows of transactions older than the
-- gatherer's oldest running transaction can all be read, and no later commit can add one
-- below it, so a cursor never skips a row that commits late. Added with a constant default
-- first (TimescaleDB refuses a volatile default on a hypertable with compression enabled):
-- rows already there get 0, which the first pull (from cursor 0) merges.

alter table kstore.trades add column xact_id xid8 not null default '0';
alter table kstore.orderbook_deltas add column xact_id xid8 not null default '0';
alter table kstore.orderbook_snapshots add column xact_id xid8 not null default '0';
alter table kstore.tickers add column xact_id xid8 not null default '0';

alter table kstore.trades alter column xact_id set default pg_current_xact_id();
alter table kstore.orderbook_deltas alter column xact_id set default pg_current_xact_id();
alter table kstore.orderbook_snapshots alter column xact_id set default pg_current_xact_id();
alter table kstore.tickers alter column xact_id set default pg_current_xact_id();

create index trades_xact_id_idx on kstore.trades (xact_id);
create index orderbook_deltas_xact_id_idx on kstore.orderbook_deltas (xact_id);
create index orderbook_snapshots_xact_id_idx on kstore.orderbook_snapshots (xact_id);
create index tickers_xact_id_idx on kstore.tickers (xact_id);
