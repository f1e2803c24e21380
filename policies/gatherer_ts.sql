-- Storage policy of a gatherer's time-series database (DESIGN §1): a local buffer, so short
-- retention (only ever of rows the deduplicator has merged), compression after one day.
-- Edit the values here; `kstore migrate` re-applies this file.

insert into ops.table_policies as p (
    table_name, chunk_interval, compress_after, compress_segmentby, compress_orderby, retain_for
)
values
('kstore.trades', '1 day', '1 day', 'market_ticker', 'ts desc, trade_id', '30 days'),
(
    'kstore.orderbook_deltas', '1 day', '1 day', 'market_ticker',
    'ts desc, side, price, delta, dup_ordinal, key_scope', '7 days'
),
(
    'kstore.orderbook_snapshots', '1 day', '1 day', 'market_ticker',
    'captured_at desc, gatherer_id, source', '30 days'
),
('kstore.tickers', '1 day', '1 day', 'market_ticker', 'ts desc, fingerprint', '7 days')
on conflict (table_name) do update set
    chunk_interval = excluded.chunk_interval,
    compress_after = excluded.compress_after,
    compress_segmentby = excluded.compress_segmentby,
    compress_orderby = excluded.compress_orderby,
    retain_for = excluded.retain_for;

select ops.apply_policies();
