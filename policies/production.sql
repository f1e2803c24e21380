-- Storage policy of production (DESIGN §1): the authoritative store. Trades and snapshots are
-- kept forever, deltas 90 days, tickers 30 days (only ever rows verified in the lake);
-- compression after 7 days. Edit the values here; `kstore migrate` re-applies this file.

insert into ops.table_policies as p (
    table_name, chunk_interval, compress_after, compress_segmentby, compress_orderby, retain_for
)
values
('kstore.trades', '1 day', '7 days', 'market_ticker', 'ts desc, trade_id', null),
(
    'kstore.orderbook_deltas', '1 day', '7 days', 'market_ticker',
    'ts desc, side, price, delta, dup_ordinal, key_scope', '90 days'
),
(
    'kstore.orderbook_snapshots', '1 day', '7 days', 'market_ticker',
    'captured_at desc, gatherer_id, source', null
),
('kstore.tickers', '1 day', '7 days', 'market_ticker', 'ts desc, fingerprint', '30 days')
on conflict (table_name) do update set
    chunk_interval = excluded.chunk_interval,
    compress_after = excluded.compress_after,
    compress_segmentby = excluded.compress_segmentby,
    compress_orderby = excluded.compress_orderby,
    retain_for = excluded.retain_for;

select ops.apply_policies();
