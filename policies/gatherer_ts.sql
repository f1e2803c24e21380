-- Storage policy of a gatherer's time-series database (DESIGN §1): a local buffer, so short
-- retention (only ever of rows the deduplicator has merged), compression after one day.
-- Only what differs from the defaults is declared (decision 0017): chunks of one day (the
-- column default), compression segmented and ordered as the primary key says
-- (ops.compression_defaults), except trades, whose key leads with trade_id, unique per trade:
-- segmented by market instead. Plain path: 14 days of partitions ahead, so a week without
-- maintenance (an hourly timer) never sends a row to the default partition.
-- Edit the values here; `kstore migrate` re-applies this file.

insert into ops.table_policies as p (
    table_name, compress_after, compress_segmentby, retain_for, premake_days
)
values
('kstore.trades', '1 day', 'market_ticker', '30 days', 14),
('kstore.orderbook_deltas', '1 day', null, '7 days', 14),
('kstore.orderbook_snapshots', '1 day', null, '30 days', 14),
('kstore.tickers', '1 day', null, '7 days', 14)
on conflict (table_name) do update set
    chunk_interval = excluded.chunk_interval,
    compress_after = excluded.compress_after,
    compress_segmentby = excluded.compress_segmentby,
    compress_orderby = excluded.compress_orderby,
    retain_for = excluded.retain_for,
    premake_days = excluded.premake_days;

select ops.apply_policies();
