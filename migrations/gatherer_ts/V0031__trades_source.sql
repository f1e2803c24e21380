-- Where a trade row came from: 'ws' (the trade channel) or 'rest' (recovered by kstore
-- reconcile from GET /markets/trades). A REST row carries the exact ts the WebSocket gives
-- that trade (created_time truncated to ms = ts_ms), so both sources share one key
-- (trade_id, ts) and dedup keeps whichever was merged first (decision 0066).

alter table kstore.trades
add column source text not null default 'ws' check (source in ('ws', 'rest'));

comment on column kstore.trades.source is
'ws: captured from the trade channel; rest: recovered by kstore reconcile from the exchange''s '
'trade record (GET /markets/trades), ts = created_time truncated to ms.';
