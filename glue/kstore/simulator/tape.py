"""Trade history served by `GET /markets/trades` (newest first, cursor = trade number).

Bounded: the oldest trades fall off after `capacity`, like trades moving to /historical.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TradeQuery:
    ticker: str | None = None
    min_ts: int | None = None  # Unix seconds, inclusive
    max_ts: int | None = None
    before: int | None = None  # cursor: only trades numbered below this


class TradeTape:
    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self.base = 0  # number of the first trade kept in `rows`
        self.rows: list[tuple[int, str, dict]] = []  # (ts_ms, ticker, trade msg)

    def append(self, ts_ms: int, ticker: str, msg: dict) -> None:
        self.rows.append((ts_ms, ticker, msg))
        if len(self.rows) > self.capacity + self.capacity // 10:
            drop = len(self.rows) - self.capacity
            del self.rows[:drop]
            self.base += drop

    def page(self, query: TradeQuery, limit: int) -> tuple[list[dict], int | None]:
        """Up to `limit` matching trade msgs newest first, and the cursor of the next page."""
        top = len(self.rows) if query.before is None else max(0, min(len(self.rows), query.before - self.base))
        found: list[dict] = []
        for pos in range(top - 1, -1, -1):
            ts_ms, ticker, msg = self.rows[pos]
            if _matches(query, ts_ms, ticker):
                if len(found) == limit:
                    return found, self.base + pos + 1
                found.append(msg)
        return found, None


def _matches(query: TradeQuery, ts_ms: int, ticker: str) -> bool:
    if query.ticker is not None and ticker != query.ticker:
        return False
    if query.min_ts is not None and ts_ms < query.min_ts * 1000:
        return False
    return query.max_ts is None or ts_ms < (query.max_ts + 1) * 1000
