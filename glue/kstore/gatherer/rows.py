"""The row shapes the gatherer writes: one column tuple per table, in insert order.

Parsers produce tuples in exactly these orders; writers insert them with
`on conflict do nothing` against the table's dedup key (DESIGN §3, decision 0007).
Values are Python types psycopg adapts exactly: Decimal for prices and sizes, aware datetime
for times, str/int/bool/None otherwise. Prices and sizes are never floats.
"""

from __future__ import annotations

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "trades": (
        "trade_id", "ts", "market_ticker", "yes_price", "no_price", "count",
        "taker_outcome_side", "taker_book_side", "is_block_trade", "sending_ts", "received_at",
        "gatherer_id",
    ),
    "orderbook_deltas": (
        "market_ticker", "ts", "side", "price", "delta", "dup_ordinal", "key_scope",
        "use_yes_price", "sid", "seq", "connection_id", "sending_ts", "received_at", "gatherer_id",
    ),
    "orderbook_snapshots": (
        "market_ticker", "captured_at", "gatherer_id", "source", "yes_prices", "yes_sizes",
        "no_prices", "no_sizes", "use_yes_price", "sid", "seq", "connection_id", "received_at",
    ),
    "tickers": (
        "market_ticker", "ts", "fingerprint", "price", "yes_bid", "yes_ask", "yes_bid_size",
        "yes_ask_size", "last_trade_size", "volume", "open_interest", "dollar_volume",
        "dollar_open_interest", "sending_ts", "received_at", "gatherer_id",
    ),
    "quarantine": ("gatherer_id", "connection_id", "received_at", "reason", "raw"),
}

# Postgres types of each column, for array/COPY based writes.
COLUMN_TYPES: dict[str, str] = {
    "trade_id": "uuid", "ts": "timestamptz", "captured_at": "timestamptz",
    "received_at": "timestamptz", "sending_ts": "timestamptz", "market_ticker": "text",
    "yes_price": "numeric", "no_price": "numeric", "count": "numeric", "price": "numeric",
    "delta": "numeric", "yes_bid": "numeric", "yes_ask": "numeric", "yes_bid_size": "numeric",
    "yes_ask_size": "numeric", "last_trade_size": "numeric", "volume": "numeric",
    "open_interest": "numeric", "yes_prices": "numeric[]", "yes_sizes": "numeric[]",
    "no_prices": "numeric[]", "no_sizes": "numeric[]", "taker_outcome_side": "text",
    "taker_book_side": "text", "is_block_trade": "boolean", "gatherer_id": "text",
    "side": "text", "dup_ordinal": "integer", "key_scope": "text", "use_yes_price": "boolean",
    "sid": "integer", "seq": "bigint", "connection_id": "text", "source": "text",
    "fingerprint": "bigint", "dollar_volume": "bigint", "dollar_open_interest": "bigint",
    "reason": "text", "raw": "bytea",
}
