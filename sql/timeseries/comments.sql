-- Comments on the time-series tables a gatherer's ts database shares with production, so psql
-- (\d+) and dbt docs say what every column holds. Conventions of every table: prices are
-- dollars as numeric(10,6) within 0..1 (a cent is 0.01), sizes are contracts as numeric(18,2),
-- exchange times are timestamptz (UTC, microseconds) from the frame's ts_ms (Unix ms),
-- received_at is the gatherer's clock. Re-runnable; production-only columns are commented in
-- sql/production/comments.sql. tests/pgtap/common/test_comments.sql fails on a missing comment.

-- ---------------------------------------------------------------- kstore.trades

comment on table kstore.trades is
'Public trades (WebSocket channel trade), one row per exchange trade_id. Key (trade_id, ts).';
comment on column kstore.trades.trade_id is 'Exchange trade id (trade_id), a UUID.';
comment on column kstore.trades.ts is
'Exchange time of the trade: ts_ms (Unix ms) as timestamptz, UTC.';
comment on column kstore.trades.market_ticker is 'Market traded (market_ticker).';
comment on column kstore.trades.yes_price is
'Price of the YES side in dollars, 0..1 (yes_price_dollars).';
comment on column kstore.trades.no_price is
'Price of the NO side in dollars, 0..1 (no_price_dollars); yes_price + no_price = 1.';
comment on column kstore.trades.count is 'Contracts traded, 2 decimals (count_fp).';
comment on column kstore.trades.taker_outcome_side is
'Outcome the taker bought: yes or no (taker_outcome_side); null when not sent.';
comment on column kstore.trades.taker_book_side is
'Book side the taker hit: bid or ask (taker_book_side); null when not sent.';
comment on column kstore.trades.is_block_trade is 'True for a block trade (is_block_trade).';
comment on column kstore.trades.sending_ts is
'Time the exchange sent the frame (sending_ts_ms), when present.';
comment on column kstore.trades.received_at is
'Gatherer clock when the frame arrived (not exchange time).';
comment on column kstore.trades.gatherer_id is
'Gatherer that captured the row (in production: the first one merged).';
comment on column kstore.trades.xact_id is
'Transaction that inserted the row: the deduplicator''s cursor (decision 0012).';

-- ---------------------------------------------------------------- kstore.orderbook_deltas

comment on table kstore.orderbook_deltas is
'Order-book changes (orderbook_delta): new resting size = old size + delta at (side, price). '
'Key (market_ticker, ts, side, price, delta, dup_ordinal, key_scope).';
comment on column kstore.orderbook_deltas.market_ticker is 'Market of the book (market_ticker).';
comment on column kstore.orderbook_deltas.ts is
'Exchange time (ts_ms) as timestamptz, UTC; the gatherer receive time when the exchange sent '
'none (then key_scope is set).';
comment on column kstore.orderbook_deltas.side is 'Book side whose bids changed: yes or no.';
comment on column kstore.orderbook_deltas.price is
'Price level in dollars, 0..1 (price_dollars); NO-side scale per use_yes_price.';
comment on column kstore.orderbook_deltas.delta is
'Change of resting contracts at the level, 2 decimals, never 0 (delta_fp).';
comment on column kstore.orderbook_deltas.dup_ordinal is
'0, 1, ... for identical (market, ts, side, price, delta) within one exchange millisecond, '
'in arrival order: two equal orders are two rows.';
comment on column kstore.orderbook_deltas.key_scope is
'Empty when ts is exchange time; the gatherer id when ts is receive time (no cross-match).';
comment on column kstore.orderbook_deltas.use_yes_price is
'Frame convention of the subscription: false = NO-side prices are NO prices; true = NO-side '
'prices are on the YES scale (1 - NO price).';
comment on column kstore.orderbook_deltas.sid is
'Subscription id of the frame (diagnosis only, in no key).';
comment on column kstore.orderbook_deltas.seq is
'Sequence number within the sid (diagnosis only, in no key).';
comment on column kstore.orderbook_deltas.connection_id is
'Gatherer WebSocket connection that received the frame (diagnosis only).';
comment on column kstore.orderbook_deltas.sending_ts is
'Time the exchange sent the frame (sending_ts_ms), when present.';
comment on column kstore.orderbook_deltas.received_at is
'Gatherer clock when the frame arrived (not exchange time).';
comment on column kstore.orderbook_deltas.gatherer_id is
'Gatherer that captured the row (in production: the first one merged).';
comment on column kstore.orderbook_deltas.xact_id is
'Transaction that inserted the row: the deduplicator''s cursor (decision 0012).';

-- ---------------------------------------------------------------- kstore.orderbook_snapshots

comment on table kstore.orderbook_snapshots is
'Full books as one gatherer saw them: WebSocket snapshots (baselines of its deltas) and '
'periodic REST books. Key (market_ticker, captured_at, gatherer_id, source); never merged '
'across gatherers. Levels are parallel arrays ascending by price; bids only on both sides.';
comment on column kstore.orderbook_snapshots.market_ticker is 'Market of the book.';
comment on column kstore.orderbook_snapshots.captured_at is
'Gatherer clock: when the WebSocket snapshot arrived or the REST answer came back (snapshots '
'carry no exchange time).';
comment on column kstore.orderbook_snapshots.gatherer_id is 'Gatherer that observed the book.';
comment on column kstore.orderbook_snapshots.source is
'ws (orderbook_snapshot frame) or rest (GET /markets/{ticker}/orderbook).';
comment on column kstore.orderbook_snapshots.yes_prices is
'YES bid price levels in dollars, ascending (yes_dollars_fp).';
comment on column kstore.orderbook_snapshots.yes_sizes is
'Contracts resting at each YES level, 2 decimals, parallel to yes_prices.';
comment on column kstore.orderbook_snapshots.no_prices is
'NO bid price levels in dollars, ascending (no_dollars_fp); scale per use_yes_price.';
comment on column kstore.orderbook_snapshots.no_sizes is
'Contracts resting at each NO level, 2 decimals, parallel to no_prices.';
comment on column kstore.orderbook_snapshots.use_yes_price is
'Frame convention: false = NO prices are NO prices; true = on the YES scale (1 - NO price). '
'REST books are always false.';
comment on column kstore.orderbook_snapshots.sid is 'Subscription id (ws only; diagnosis).';
comment on column kstore.orderbook_snapshots.seq is 'Sequence number in the sid (ws only).';
comment on column kstore.orderbook_snapshots.connection_id is
'Gatherer WebSocket connection (ws only; diagnosis).';
comment on column kstore.orderbook_snapshots.received_at is
'Gatherer clock when the frame or REST answer arrived.';
comment on column kstore.orderbook_snapshots.xact_id is
'Transaction that inserted the row: the deduplicator''s cursor (decision 0012).';

-- ---------------------------------------------------------------- kstore.tickers

comment on table kstore.tickers is
'Ticker updates (quote, last price, volume, open interest), one row per distinct payload per '
'market and exchange millisecond. Key (market_ticker, ts, fingerprint).';
comment on column kstore.tickers.market_ticker is 'Market (market_ticker).';
comment on column kstore.tickers.ts is 'Exchange time (ts_ms) as timestamptz, UTC.';
comment on column kstore.tickers.fingerprint is
'Signed 64-bit hash of the msg payload as sent (the exchange sends no id).';
comment on column kstore.tickers.price is 'Last traded price in dollars (price_dollars).';
comment on column kstore.tickers.yes_bid is 'Best YES bid in dollars (yes_bid_dollars).';
comment on column kstore.tickers.yes_ask is 'Best YES ask in dollars (yes_ask_dollars).';
comment on column kstore.tickers.yes_bid_size is
'Contracts at the best YES bid, 2 decimals (yes_bid_size_fp).';
comment on column kstore.tickers.yes_ask_size is
'Contracts at the best YES ask, 2 decimals (yes_ask_size_fp).';
comment on column kstore.tickers.last_trade_size is
'Contracts in the last trade, 2 decimals (last_trade_size_fp).';
comment on column kstore.tickers.volume is 'Contracts traded in total, 2 decimals (volume_fp).';
comment on column kstore.tickers.open_interest is
'Contracts outstanding, 2 decimals (open_interest_fp).';
comment on column kstore.tickers.dollar_volume is 'Traded volume in whole dollars (dollar_volume).';
comment on column kstore.tickers.dollar_open_interest is
'Open interest in whole dollars (dollar_open_interest).';
comment on column kstore.tickers.sending_ts is
'Time the exchange sent the frame (sending_ts_ms), when present.';
comment on column kstore.tickers.received_at is
'Gatherer clock when the frame arrived (not exchange time).';
comment on column kstore.tickers.gatherer_id is
'Gatherer that captured the row (in production: the first one merged).';
comment on column kstore.tickers.xact_id is
'Transaction that inserted the row: the deduplicator''s cursor (decision 0012).';

-- ---------------------------------------------------------------- ops: storage and policies

comment on table ops.storage is
'The storage path chosen when the database was first migrated (one row).';
comment on column ops.storage.singleton is 'Always true: the table has one row.';
comment on column ops.storage.path is
'timescaledb (hypertables) or plain (native partitions by UTC day, as on RDS).';
comment on column ops.storage.chosen_at is 'When the path was chosen.';

comment on table ops.timeseries is
'Every time-series table and its time column: what maintenance works from.';
comment on column ops.timeseries.table_name is 'The time-series table.';
comment on column ops.timeseries.time_column is
'The column partitions (chunks) and retention cut on.';

comment on table ops.table_policies is
'Declared storage policy per time-series table, filled by policies/<tier>.sql.';
comment on column ops.table_policies.table_name is 'The time-series table.';
comment on column ops.table_policies.chunk_interval is 'Width of a chunk or partition.';
comment on column ops.table_policies.compress_after is
'Age after which chunks are compressed (TimescaleDB only); null: never.';
comment on column ops.table_policies.compress_segmentby is
'Compression segmentby columns (TimescaleDB only).';
comment on column ops.table_policies.compress_orderby is
'Compression orderby columns (TimescaleDB only).';
comment on column ops.table_policies.retain_for is
'Retention horizon (guarded: see ops.retention_safe); null: keep forever.';
comment on column ops.table_policies.premake_days is
'Days of partitions made ahead (plain path).';
