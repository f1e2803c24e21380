-- OHLCV candles per market and UTC day, rolled up from agg_candles_1h: open is the first
-- hour candle's open, close the last one's close, volume, notional and trade_count add up,
-- vwap = notional / volume. Incremental: every day holding a hour candle that changed since the
-- last build (by its last_merged_at, less the lookback) is recomputed whole. Key and indexes:
-- (market_ticker, candle_start), set by candle_rollup.

{{ candle_rollup('agg_candles_1h', 'day') }}
