-- Every time-series row records the id of the transaction that inserted it. The deduplicator's
-- cursor is a transaction-id horizon (decision 0012): rows of transactions older than the
-- gatherer's oldest running transaction can all be read, and no later commit can add one
-- below it, so a cursor never skips a row that commits late.

alter table kstore.trades add column xact_id xid8 not null default pg_current_xact_id();
alter table kstore.orderbook_deltas add column xact_id xid8 not null default pg_current_xact_id();
alter table kstore.orderbook_snapshots add column xact_id xid8 not null
default pg_current_xact_id();
alter table kstore.tickers add column xact_id xid8 not null default pg_current_xact_id();

create index trades_xact_id_idx on kstore.trades (xact_id);
create index orderbook_deltas_xact_id_idx on kstore.orderbook_deltas (xact_id);
create index orderbook_snapshots_xact_id_idx on kstore.orderbook_snapshots (xact_id);
create index tickers_xact_id_idx on kstore.tickers (xact_id);
