-- Storage policy of production (DESIGN §1): the authoritative store. Trades and snapshots are
-- kept forever (null retention), deltas 90 days, tickers 30 days (only ever rows verified in
-- the lake); compression after 7 days. Only what differs from the defaults is declared
-- (decision 0017): chunks of one day (the column default), compression segmented and ordered
-- as the primary key says (ops.compression_defaults), except trades and deltas, the bulk of
-- the store: no segmentby, so each compressed batch holds 1000 consecutive rows of all markets
-- in time order (decision 0075, measured by `kstore bench storage`: segments per market are
-- too short for skewed markets, and time order is what the exporter, the dedup key checks and
-- retention read by).
-- Plain path: 14 days of partitions ahead, so a week without maintenance (an hourly timer)
-- never sends a row to the default partition.
-- Edit the values here; `kstore migrate` re-applies this file.

insert into ops.table_policies as p (
    table_name, compress_after, compress_segmentby, retain_for, premake_days
)
values
('kstore.trades', '7 days', '', null, 14),
('kstore.orderbook_deltas', '7 days', '', '90 days', 14),
('kstore.orderbook_snapshots', '7 days', null, null, 14),
('kstore.tickers', '7 days', null, '30 days', 14)
on conflict (table_name) do update set
    chunk_interval = excluded.chunk_interval,
    compress_after = excluded.compress_after,
    compress_segmentby = excluded.compress_segmentby,
    compress_orderby = excluded.compress_orderby,
    retain_for = excluded.retain_for,
    premake_days = excluded.premake_days;

select ops.apply_policies();
