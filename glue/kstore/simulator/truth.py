"""Truth file: every valid event the simulated exchange emitted, one JSON object per line.

Faults (drops, duplicate frames, malformed frames, disconnects, error 25) are per connection
and never appear here; what a gatherer trio stores should equal this file after dedup. Trades
withheld from every connection (`lose_trades`) are here and on GET /markets/trades only: no
gatherer has them until `kstore reconcile` recovers them.
All lines have `table` and `index` (the global event index, the emission order; null for the
universe listed at start). Prices and sizes are the exact wire strings (compare as decimals:
some markets send 6 decimals). Lines by table:

  trades            {"table":"trades","index":i,"trade_id","ts_ms","market_ticker",
                     "yes_price_dollars","no_price_dollars","count_fp","taker_outcome_side",
                     "taker_book_side","is_block_trade"}            dedup key: trade_id (+ ts)
  orderbook_deltas  {"table":"orderbook_deltas","index":i,"market_ticker","ts_ms","side",
                     "price_dollars","delta_fp","use_yes_price":false}
                     key: (market_ticker, ts_ms, side, price, delta) + ordinal among identical
                     tuples: two identical consecutive deltas are two lines and two rows.
                     Prices are on the NO-leg scale for side "no" (use_yes_price false).
  tickers           {"table":"tickers","index":i, ...every field of the ticker msg}
                     key: (market_ticker, ts_ms, fingerprint of the payload)
  markets           {"table":"markets","index":i,"ts_ms", ...the market_lifecycle_v2 msg
                     (market_ticker, event_type, ...), "status","updated_time"}: the market's
                     REST status and updated_time right after the change.
                     At start, one line per market: {"table":"markets","index":null,
                     "event_type":"listed","market_ticker","event_ticker","status","updated_time"}
  events            {"table":"events","index":i,"ts_ms","event_type":"created", ...the
                     event_lifecycle msg}; at start {"table":"events","index":null,
                     "event_type":"listed","event_ticker","series_ticker"}
  series            at start only: {"table":"series","index":null,"event_type":"listed",
                     "series_ticker"}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from .generator import FeedEvent
from .units import rfc3339, wall_ms
from .universe import Universe

_TRADE_FIELDS = ("trade_id", "ts_ms", "market_ticker", "yes_price_dollars", "no_price_dollars", "count_fp",
                 "taker_outcome_side", "taker_book_side", "is_block_trade")
_DELTA_FIELDS = ("market_ticker", "ts_ms", "side", "price_dollars", "delta_fp")


def _trade(e: FeedEvent) -> dict:
    return {"table": "trades", "index": e.index, **{k: e.msg[k] for k in _TRADE_FIELDS}}


def _delta(e: FeedEvent) -> dict:
    return {"table": "orderbook_deltas", "index": e.index, **{k: e.msg[k] for k in _DELTA_FIELDS},
            "use_yes_price": False}


def _ticker(e: FeedEvent) -> dict:
    return {"table": "tickers", "index": e.index, **e.msg}


def _market(e: FeedEvent) -> dict:
    return {"table": "markets", "index": e.index, "ts_ms": e.ts_ms, **e.msg, **(e.extra or {})}


def _event(e: FeedEvent) -> dict:
    return {"table": "events", "index": e.index, "ts_ms": e.ts_ms, "event_type": "created", **e.msg}


RECORDS: dict[str, Callable[[FeedEvent], dict]] = {
    "trade": _trade,
    "orderbook_delta": _delta,
    "ticker": _ticker,
    "market_lifecycle_v2": _market,
    "event_lifecycle": _event,
}


class TruthWriter:
    """Buffered JSONL writer; flushed at most every `flush_ms` and on close."""

    def __init__(self, path: Path, flush_ms: int = 500) -> None:
        self.file = open(path, "w", encoding="utf-8", buffering=1 << 20)
        self.flush_ms, self.flushed_at = flush_ms, wall_ms()
        self.encode = json.JSONEncoder(separators=(",", ":")).encode

    def listed(self, universe: Universe) -> None:
        """The universe as it stands before the first event."""
        write = self.file.write
        for ticker in universe.series:
            write(self.encode({"table": "series", "index": None, "event_type": "listed", "series_ticker": ticker}) + "\n")
        for event in universe.events.values():
            write(self.encode({"table": "events", "index": None, "event_type": "listed",
                               "event_ticker": event.event_ticker, "series_ticker": event.series_ticker}) + "\n")
        for m in universe.order:
            write(self.encode({"table": "markets", "index": None, "event_type": "listed", "market_ticker": m.ticker,
                               "event_ticker": m.event_ticker, "status": m.status,
                               "updated_time": rfc3339(m.updated_ms, with_ms=True)}) + "\n")

    def write(self, event: FeedEvent) -> None:
        self.file.write(self.encode(RECORDS[event.type](event)) + "\n")

    def maybe_flush(self, now_ms: int) -> None:
        if now_ms - self.flushed_at >= self.flush_ms:
            self.file.flush()
            self.flushed_at = now_ms

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()


def read_truth(path: Path) -> list[dict]:
    """All truth lines, in file order (for tests and checks)."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
