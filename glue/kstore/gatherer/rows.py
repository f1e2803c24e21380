"""The row shapes the gatherer writes: one column tuple per table, in insert order.

Rows are built by column name (`row_of`), from mappings whose keys are these column names
(kstore.gatherer.parse names them, one table per message type); writers insert the tuples with
`on conflict do nothing` against the table's dedup key (DESIGN §3, decision 0007). Column types
are the database's own (kstore.copyload reads them from pg_attribute). Values are Python types
psycopg adapts exactly: Decimal for prices and sizes, aware datetime for times,
str/int/bool/None otherwise. Prices and sizes are never floats.

A row built from a frame is a `Row`: a tuple that also carries the frame's exact bytes (`raw`),
so a row the database rejects is quarantined with the bytes that were received
(kstore.gatherer.batch.quarantine_row), not a dump of the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter

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

_GETTERS = {table: itemgetter(*columns) for table, columns in TABLE_COLUMNS.items()}


class Row(tuple):
    """A row (TABLE_COLUMNS order) and `raw`, the bytes of the frame it was built from."""

    raw: bytes


def row_of(table: str, values: Mapping, raw: bytes | None = None) -> tuple:
    """The row of `table` (TABLE_COLUMNS order) from values by column name; keys that are not
    columns of `table` are ignored, a column without a value raises KeyError. With `raw`, a
    `Row` that carries those frame bytes."""
    if raw is None:
        return _GETTERS[table](values)
    row = Row(_GETTERS[table](values))
    row.raw = raw
    return row
