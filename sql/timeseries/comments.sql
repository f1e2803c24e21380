-- Comments on the time-series tables a gatherer's ts database shares with production, so psql
-- (\d+) and dbt docs say what every column holds. Conventions of every table: prices are
-- dollars as numeric(10,6) within 0..1 (a cent is 0.01), sizes are contracts as numeric(18,2),
-- exchange times are timestamptz (UTC, microseconds) from the frame's ts_ms (Unix ms),
-- received_at is the gatherer's clock. Re-runnable; production-only columns are commented in
-- sql/production/comments.sql. tests/pgtap/common/test_comments.sql fails on a missing comment.

-- ---------------------------------------------------------------- kstore.trades

comment on table kstore.trades is
'Public trades (WebSocket channel trade), one row per exchange trade_id. Key (trade_id, ts).';
select ops.comment_columns('kstore.trades', array[
    ['trade_id', 'Exchange trade id (trade_id), a UUID.'],
    ['ts', 'Exchange time of the trade: ts_ms (Unix ms) as timestamptz, UTC.'],
    ['market_ticker', 'Market traded (market_ticker).'],
    ['yes_price', 'Price of the YES side in dollars, 0..1 (yes_price_dollars).'],
    [
        'no_price',
        'Price of the NO side in dollars, 0..1 (no_price_dollars); yes_price + no_price = 1.'
    ],
    ['count', 'Contracts traded, 2 decimals (count_fp).'],
    [
        'taker_outcome_side',
        'Outcome the taker bought: yes or no (taker_outcome_side); null when not sent.'
    ],
    [
        'taker_book_side',
        'Book side the taker hit: bid or ask (taker_book_side); null when not sent.'
    ],
    ['is_block_trade', 'True for a block trade (is_block_trade).']
]);

-- ---------------------------------------------------------------- kstore.orderbook_deltas

comment on table kstore.orderbook_deltas is
'Order-book changes (orderbook_delta): new resting size = old size + delta at (side, price). '
'Key (market_ticker, ts, side, price, delta, dup_ordinal, key_scope).';
select ops.comment_columns('kstore.orderbook_deltas', array[
    ['market_ticker', 'Market of the book (market_ticker).'],
    [
        'ts',
        'Exchange time (ts_ms) as timestamptz, UTC; the gatherer receive time when the exchange '
        'sent none (then key_scope is set).'
    ],
    ['side', 'Book side whose bids changed: yes or no.'],
    ['price', 'Price level in dollars, 0..1 (price_dollars); NO-side scale per use_yes_price.'],
    ['delta', 'Change of resting contracts at the level, 2 decimals, never 0 (delta_fp).'],
    [
        'dup_ordinal',
        '0, 1, ... for identical (market, ts, side, price, delta) within one exchange millisecond, '
        'in arrival order: two equal orders are two rows.'
    ],
    [
        'key_scope',
        'Empty when ts is exchange time; the gatherer id when ts is receive time (no cross-match).'
    ],
    [
        'use_yes_price',
        'Frame convention of the subscription: false = NO-side prices are NO prices; true = '
        'NO-side prices are on the YES scale (1 - NO price).'
    ],
    ['sid', 'Subscription id of the frame (diagnosis only, in no key).'],
    ['seq', 'Sequence number within the sid (diagnosis only, in no key).'],
    ['connection_id', 'Gatherer WebSocket connection that received the frame (diagnosis only).']
]);

-- ---------------------------------------------------------------- kstore.orderbook_snapshots

comment on table kstore.orderbook_snapshots is
'Full books as one gatherer saw them: WebSocket snapshots (baselines of its deltas) and '
'periodic REST books. Key (market_ticker, captured_at, gatherer_id, source); never merged '
'across gatherers. Levels are parallel arrays ascending by price; bids only on both sides.';
select ops.comment_columns('kstore.orderbook_snapshots', array[
    ['market_ticker', 'Market of the book.'],
    [
        'captured_at',
        'Gatherer clock: when the WebSocket snapshot arrived or the REST answer came back '
        '(snapshots carry no exchange time).'
    ],
    ['gatherer_id', 'Gatherer that observed the book.'],
    ['source', 'ws (orderbook_snapshot frame) or rest (GET /markets/{ticker}/orderbook).'],
    ['yes_prices', 'YES bid price levels in dollars, ascending (yes_dollars_fp).'],
    ['yes_sizes', 'Contracts resting at each YES level, 2 decimals, parallel to yes_prices.'],
    [
        'no_prices',
        'NO bid price levels in dollars, ascending (no_dollars_fp); scale per use_yes_price.'
    ],
    ['no_sizes', 'Contracts resting at each NO level, 2 decimals, parallel to no_prices.'],
    [
        'use_yes_price',
        'Frame convention: false = NO prices are NO prices; true = on the YES scale (1 - NO '
        'price). REST books are always false.'
    ],
    ['sid', 'Subscription id (ws only; diagnosis).'],
    ['seq', 'Sequence number in the sid (ws only).'],
    ['connection_id', 'Gatherer WebSocket connection (ws only; diagnosis).'],
    ['received_at', 'Gatherer clock when the frame or REST answer arrived.']
]);

-- ---------------------------------------------------------------- kstore.tickers

comment on table kstore.tickers is
'Ticker updates (quote, last price, volume, open interest), one row per distinct payload per '
'market and exchange millisecond. Key (market_ticker, ts, fingerprint).';
select ops.comment_columns('kstore.tickers', array[
    ['market_ticker', 'Market (market_ticker).'],
    ['ts', 'Exchange time (ts_ms) as timestamptz, UTC.'],
    ['fingerprint', 'Signed 64-bit hash of the msg payload as sent (the exchange sends no id).'],
    ['price', 'Last traded price in dollars (price_dollars).'],
    ['yes_bid', 'Best YES bid in dollars (yes_bid_dollars).'],
    ['yes_ask', 'Best YES ask in dollars (yes_ask_dollars).'],
    ['yes_bid_size', 'Contracts at the best YES bid, 2 decimals (yes_bid_size_fp).'],
    ['yes_ask_size', 'Contracts at the best YES ask, 2 decimals (yes_ask_size_fp).'],
    ['last_trade_size', 'Contracts in the last trade, 2 decimals (last_trade_size_fp).'],
    ['volume', 'Contracts traded in total, 2 decimals (volume_fp).'],
    ['open_interest', 'Contracts outstanding, 2 decimals (open_interest_fp).'],
    ['dollar_volume', 'Traded volume in whole dollars (dollar_volume).'],
    ['dollar_open_interest', 'Open interest in whole dollars (dollar_open_interest).']
]);

-- ---------------------------------------------------------------- ops: storage and policies

comment on table ops.storage is
'The storage path chosen when the database was first migrated (one row).';
select ops.comment_columns('ops.storage', array[
    ['path', 'timescaledb (hypertables) or plain (native partitions by UTC day, as on RDS).'],
    ['chosen_at', 'When the path was chosen.']
]);

comment on table ops.timeseries is
'Every time-series table and its time column: what maintenance works from.';
select ops.comment_columns('ops.timeseries', array[
    ['table_name', 'The time-series table.'],
    ['time_column', 'The column partitions (chunks) and retention cut on.']
]);

comment on table ops.table_policies is
'Declared storage policy per time-series table, filled by policies/<tier>.sql.';
select ops.comment_columns('ops.table_policies', array[
    ['table_name', 'The time-series table.'],
    ['chunk_interval', 'Width of a chunk or partition.'],
    ['compress_after', 'Age after which chunks are compressed (TimescaleDB only); null: never.'],
    ['compress_segmentby', 'Compression segmentby columns (TimescaleDB only).'],
    ['compress_orderby', 'Compression orderby columns (TimescaleDB only).'],
    ['retain_for', 'Retention horizon (guarded: see ops.retention_safe); null: keep forever.'],
    ['premake_days', 'Days of partitions made ahead (plain path).']
]);
