-- Privileges of the gatherer roles on the time-series database: the writer inserts and reads
-- its own tables (and records gap recovery); the reader (postgres_fdw mapping) only reads.
-- Neither can change the schema, and neither can reach the ops control tables it does not need.

grant select, insert on
kstore.trades, kstore.orderbook_deltas, kstore.orderbook_snapshots, kstore.tickers,
kstore.quarantine
to kstore_gatherer_writer;
grant select, insert, update on kstore.feed_gaps to kstore_gatherer_writer;

grant select on
kstore.trades, kstore.orderbook_deltas, kstore.orderbook_snapshots, kstore.tickers,
kstore.feed_gaps, kstore.quarantine
to kstore_gatherer_reader;
