-- Storage policy of production (DESIGN §1): the authoritative store. Trades and snapshots are
-- kept forever (null retention), deltas 90 days, tickers 30 days (only ever rows verified in
-- the lake); compression after 7 days. Only what differs from the defaults is declared
-- (decision 0017): compression segmented and ordered as the primary key says
-- (ops.compression_defaults), except trades, whose key leads with trade_id, unique per trade:
-- segmented by market instead. Chunks of one day (the column default), except trades and
-- deltas: 7 days, so a market's compressed segments hold a week of rows, not a day's (decision
-- 0075, measured by `kstore bench storage`). Chunks matter on TimescaleDB only: the plain path
-- partitions by day. Edit the values here; `kstore migrate` re-applies this file.

insert into ops.table_policies as p (
    table_name, chunk_interval, compress_after, compress_segmentby, retain_for
)
values
('kstore.trades', '7 days', '7 days', 'market_ticker', null),
('kstore.orderbook_deltas', '7 days', '7 days', null, '90 days'),
('kstore.orderbook_snapshots', '1 day', '7 days', null, null),
('kstore.tickers', '1 day', '7 days', null, '30 days')
on conflict (table_name) do update set
    chunk_interval = excluded.chunk_interval,
    compress_after = excluded.compress_after,
    compress_segmentby = excluded.compress_segmentby,
    compress_orderby = excluded.compress_orderby,
    retain_for = excluded.retain_for;

select ops.apply_policies();
