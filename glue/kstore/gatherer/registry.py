"""Market registry: series, events and markets from REST into the gatherer's `rel` database.

A full load at start, then incremental refreshes (`min_updated_ts`), plus, when a lifecycle
message names a market or event, the version the frame itself states (kstore.gatherer.lifecycle,
decision 0024) and an immediate refetch. Rows are upserted; the schema keeps the newest version
(ops.keep_newest), so the order in which answers arrive does not matter. The registry also
knows which markets the order-book subscriptions should cover.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg.types.json import Jsonb

from kstore.gatherer import lifecycle
from kstore.gatherer.parse import Invalid
from kstore.gatherer.rest import ExchangeError, RestClient

log = logging.getLogger("kstore.gather")

# A market is subscribed while it can still trade (paused markets may resume).
SUBSCRIBED_STATUSES = frozenset({"initialized", "active", "inactive", "open", "unopened", "paused"})

COLUMNS = {
    "series": {
        "series_ticker": "ticker", "title": "title", "category": "category",
        "frequency": "frequency", "tags": "tags", "fee_type": "fee_type",
        "fee_multiplier": "fee_multiplier", "contract_url": "contract_url",
    },
    "events": {
        "event_ticker": "event_ticker", "series_ticker": "series_ticker", "title": "title",
        "sub_title": "sub_title", "category": "category",
        "collateral_return_type": "collateral_return_type",
        "mutually_exclusive": "mutually_exclusive", "strike_date": "strike_date",
        "strike_period": "strike_period",
    },
    "markets": {
        "market_ticker": "ticker", "event_ticker": "event_ticker",
        "series_ticker": "series_ticker", "market_type": "market_type", "title": "title",
        "yes_sub_title": "yes_sub_title", "no_sub_title": "no_sub_title", "status": "status",
        "result": "result", "created_time": "created_time", "open_time": "open_time",
        "close_time": "close_time", "expected_expiration_time": "expected_expiration_time",
        "settlement_ts": "settlement_ts", "settlement_value": "settlement_value_dollars",
        "strike_type": "strike_type", "floor_strike": "floor_strike",
        "cap_strike": "cap_strike", "price_level_structure": "price_level_structure",
        "fractional_trading_enabled": "fractional_trading_enabled",
        "yes_bid": "yes_bid_dollars", "yes_ask": "yes_ask_dollars",
        "last_price": "last_price_dollars", "volume": "volume_fp",
        "open_interest": "open_interest_fp", "updated_time": "updated_time",
    },
}
KEYS = {"series": "series_ticker", "events": "event_ticker", "markets": "market_ticker"}


def upsert_sql(table: str) -> str:
    columns = [*COLUMNS[table], "observed_at", "raw"]
    if table != "series":  # a REST answer is a REST version (decision 0024)
        columns.append("version_source")
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns[1:])
    return (f"insert into kstore.{table} ({', '.join(columns)}) "
            f"values ({', '.join('%s' for _ in columns)}) "
            f"on conflict ({KEYS[table]}) do update set {updates}"
            + (" returning status" if table == "markets" else ""))  # the row's, once decided


def row(table: str, obj: dict, observed_at: datetime, known: dict | None = None) -> tuple:
    """Column values from the object as sent; `known` fills fields it lacks (raw stays as sent)."""
    values = [obj.get(source, (known or {}).get(source)) for source in COLUMNS[table].values()]
    values = [json.dumps(v) if isinstance(v, dict) else v for v in values]
    return (*values, observed_at, Jsonb(obj), *(() if table == "series" else ("rest",)))


class Registry:
    def __init__(self, dsn: str, rest: RestClient, gatherer_id: str):
        self.dsn = dsn
        self.rest = rest
        self.gatherer_id = gatherer_id
        self.statuses: dict[str, str] = {}
        self.event_series: dict[str, str] = {}
        self.last_refresh: float | None = None
        self.counts = {"series": 0, "events": 0, "markets": 0, "rejected": 0, "frames": 0}
        self._frames = asyncio.Lock()  # lifecycle frames are applied one at a time, in order
        self._last_frame = datetime.min.replace(tzinfo=timezone.utc)

    def subscribable(self) -> list[str]:
        return sorted(t for t, status in self.statuses.items() if status in SUBSCRIBED_STATUSES)

    async def load(self) -> None:
        """Full load: every series, event and market."""
        started = time.time()
        await self.store("series", [s async for s in self.rest.pages("/series", "series")])
        await self.store("events", [e async for e in self.rest.pages("/events", "events",
                                                                       limit=200)])
        await self.store("markets", [m async for m in self.rest.pages("/markets", "markets")])
        self.last_refresh = started

    async def refresh(self) -> None:
        """Markets changed since the last refresh (a minute of overlap: clocks differ)."""
        started = time.time()
        since = int((self.last_refresh or started) - 60)
        markets = [m async for m in self.rest.pages("/markets", "markets",
                                                     {"min_updated_ts": since})]
        await self.store("markets", markets)
        self.last_refresh = started

    async def fetch_market(self, ticker: str) -> None:
        await self._fetch("markets", f"/markets/{ticker}", "market")

    async def fetch_event(self, ticker: str) -> None:
        await self._fetch("events", f"/events/{ticker}", "event")

    async def _fetch(self, table: str, path: str, key: str) -> None:
        """One object by its REST path; a failure is logged (the next refresh catches up)."""
        try:
            answer = await self.rest.get(path)
        except ExchangeError as exc:
            log.warning("registry: %s: %s", path, exc)
            return
        if isinstance(answer.get(key), dict):
            await self.store(table, [answer[key]])

    async def apply_frame(self, kind: str, msg: dict, received_at: datetime) -> None:
        """The version a lifecycle frame states, as of its receive time (newest wins in SQL);
        a frame that cannot be read, or a row the database refuses, is logged and counted.
        Frames are applied in the order they arrive (the caller's tasks start in that order),
        each at a distinct time: `created` then `activated` in one millisecond is two versions."""
        try:
            version = lifecycle.read(kind, msg)
        except Invalid as exc:
            self.counts["rejected"] += 1
            log.warning("registry: %s frame not applied: %s", kind, exc)
            return
        key = version.columns[version.key]
        async with self._frames:
            event = version.columns.get("event_ticker", key)
            known = {"series_ticker": self.event_series.get(event)}
            self._last_frame = max(received_at, self._last_frame + timedelta(microseconds=1))
            sql, params = lifecycle.statement(version, self._last_frame,
                                              datetime.now(timezone.utc), known)
            if await self._execute(kind, sql, params):
                self._remember_frame(version.table, key, version.columns)

    def _remember_frame(self, table: str, key: str, columns: dict) -> None:
        if table == "events" and columns.get("series_ticker"):
            self.event_series[key] = columns["series_ticker"]
        if table == "markets" and columns.get("status"):
            self.statuses[key] = columns["status"]

    async def _execute(self, kind: str, sql: str, params: list) -> bool:
        async with await psycopg.AsyncConnection.connect(self.dsn) as conn:
            try:
                await conn.execute(sql, params)
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                self.counts["rejected"] += 1
                log.warning("registry: %s frame rejected: %s", kind, exc)
                return False
        self.counts["frames"] += 1
        return True

    async def store(self, table: str, objects: Iterable[dict]) -> None:
        """Upsert each object in its own savepoint: a bad one is quarantined, not fatal."""
        observed_at = datetime.now(timezone.utc)
        async with await psycopg.AsyncConnection.connect(self.dsn) as conn:
            for obj in objects:
                self._remember(table, obj)
                known = {"series_ticker": self.event_series.get(obj.get("event_ticker"))}
                try:
                    async with conn.transaction():
                        cursor = await conn.execute(upsert_sql(table),
                                                    row(table, obj, observed_at, known))
                        if table == "markets":
                            self._status(obj, await cursor.fetchone())
                    self.counts[table] += 1
                except (psycopg.DataError, psycopg.IntegrityError) as exc:
                    self.counts["rejected"] += 1
                    log.warning("registry: %s object rejected: %s", table, exc)
                    if table == "markets":
                        self._status(obj, None)

    def _remember(self, table: str, obj: dict) -> None:
        if table == "events" and obj.get("event_ticker"):
            self.event_series[obj["event_ticker"]] = obj.get("series_ticker")

    def _status(self, obj: dict, stored: tuple | None) -> None:
        """A market's status is its row's: a REST answer older than the row (a stale answer
        after a lifecycle frame) does not change it (decision 0024)."""
        if not obj.get("ticker"):
            return
        if stored is not None:
            self.statuses[obj["ticker"]] = stored[0] or ""
        elif obj["ticker"] not in self.statuses:
            self.statuses[obj["ticker"]] = obj.get("status") or ""
