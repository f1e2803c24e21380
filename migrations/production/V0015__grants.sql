-- Privileges of the production roles: the deduplicator inserts and reads the merged tables and
-- updates mutable reference rows; the exporter reads everything and writes the manifest; the
-- analyst reads the data; nobody but the migration owner changes the schema.

grant select, insert on
kstore.trades, kstore.orderbook_deltas, kstore.orderbook_snapshots, kstore.tickers,
kstore.series_history, kstore.events_history, kstore.markets_history
to kstore_dedup;
grant select, insert, update on
kstore.feed_gaps, kstore.series, kstore.events, kstore.markets
to kstore_dedup;
grant select, insert, update on ops.dedup_cursors to kstore_dedup;

grant select on all tables in schema kstore to kstore_exporter, kstore_analyst;
grant select, insert, update, delete on ops.export_manifest to kstore_exporter;
grant select on ops.export_manifest, ops.dedup_cursors to kstore_analyst, kstore_maintainer;
