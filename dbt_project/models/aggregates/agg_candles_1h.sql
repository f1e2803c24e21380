-- OHLCV candles per market and UTC hour, rolled up from agg_candles_1m: open is the first
-- minute candle's open, close the last one's close, volume, notional and trade_count add up,
-- vwap = notional / volume. Incremental: every hour holding a minute candle that changed since the
-- last build (by its last_merged_at, less the lookback) is recomputed whole. Key and indexes:
-- (market_ticker, candle_start), set by candle_rollup.

{{ candle_rollup('agg_candles_1m', 'hour') }}
