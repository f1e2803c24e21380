"""Market registry: series, events and markets from REST into the gatherer's `rel` database.

What it fetches follows the market selection (kstore.selection): server-side filters (status,
series, event, `mve_filter`) at the maximum page size. At start the selected markets the
database already holds are known at once (`prime`), so capture starts while the full load pages
through the exchange; each page is stored as it arrives in one set-based statement
(COPY-staged, kstore.copyload); then incremental refreshes (`min_updated_ts` with
`mve_filter=exclude`), plus, when a lifecycle message names a market or event, the version the
frame itself states (kstore.gatherer.lifecycle, decision 0024) and an immediate refetch. The
schema keeps the newest version (ops.keep_newest), so the order in which answers arrive does not
matter. The registry knows the selected markets (`subscribable`) and tells `on_change` which
entered or left the selection; it holds state for selected markets only (decision 0060).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql

from kstore import copyload
from kstore.gatherer import lifecycle, listings
from kstore.gatherer.registry_tables import columns_of, page_sql, row, upsert_sql
from kstore.gatherer.parse import Invalid
from kstore.gatherer.rest import ExchangeError, RestClient
from kstore.selection import STORED_SQL, Selection, is_mve, stored_params
from kstore.settings import SelectionSettings

log = logging.getLogger("kstore.gather")

class Registry:
    def __init__(self, dsn: str, rest: RestClient, gatherer_id: str,
                 selection: SelectionSettings | None = None, on_change=None):
        self.dsn = dsn
        self.rest = rest
        self.gatherer_id = gatherer_id
        self.selection = Selection(selection or SelectionSettings())
        self.on_change = on_change  # async (added, removed): tickers entering/leaving
        self.on_late = None  # (listed: {ticker: created_time or None}): see _changed
        self.statuses: dict[str, str] = {}  # markets the selection holds or held: status
        self.event_series: dict[str, str] = {}
        self.last_refresh: float | None = None
        self.loaded = asyncio.Event()
        self.counts = {"series": 0, "events": 0, "markets": 0, "rejected": 0, "frames": 0}
        self.load_stats: dict = {}
        self._unconfirmed: set[str] = set()  # primed from the database, not yet seen on REST
        self._frames = asyncio.Lock()  # lifecycle frames are applied one at a time, in order
        self._last_frame = datetime.min.replace(tzinfo=timezone.utc)
        self._stage: dict[str, copyload.Load] = {}

    def subscribable(self) -> list[str]:
        """The selected markets, sorted (kstore.selection.selected_books)."""
        wanted = self.selection.statuses
        return sorted(t for t, status in self.statuses.items() if status in wanted)

    async def prime(self) -> list[str]:
        """The selected markets the database already holds: known before any REST answer."""
        settings = self.selection.settings
        async with await psycopg.AsyncConnection.connect(self.dsn) as conn:
            cursor = await conn.execute(STORED_SQL,
                                        stored_params(settings, self.selection.statuses))
            rows = await cursor.fetchall()
        for ticker, event, series, status, mve, _ in rows:
            if self.selection.matches(ticker, event, series, mve):
                self.statuses[ticker] = status or ""
                self._unconfirmed.add(ticker)
        return self.subscribable()

    async def load(self) -> None:
        """Full load of what the selection needs, page by page; the selected markets the
        database held that the exchange no longer lists as selected leave the selection."""
        started, clock, requests = time.time(), time.monotonic(), self.rest.requests
        await self._load_series()
        await self._load_events()
        await _together(self._pages("/markets", "markets", query, query.get("series_ticker"))
                        for query in self.selection.queries())
        gone = sorted(t for t in self._unconfirmed if t in self.statuses)
        for ticker in gone:
            del self.statuses[ticker]
        self._unconfirmed.clear()
        if gone and self.on_change is not None:
            await self.on_change([], gone)
        self.last_refresh = started
        self.load_stats = {"requests": self.rest.requests - requests,
                           "seconds": round(time.monotonic() - clock, 2),
                           "selected": len(self.subscribable())}
        self.loaded.set()
        log.info("registry: loaded %s", self.load_stats)

    async def _load_series(self) -> None:
        """The selection's series: by category (which resolves the category filter), by
        ticker, or every series when neither is set."""
        settings = self.selection.settings
        if settings.categories:
            found: set[str] = set()
            for category in settings.categories:
                objects = (await self.rest.get("/series", {"category": category})).get("series")
                await self.store("series", objects or [])
                found |= {o["ticker"] for o in objects or [] if o.get("ticker")}
            self.selection = Selection(settings, frozenset(found))
        elif settings.series:
            for ticker in settings.series:
                await self._fetch("series", f"/series/{ticker}", "series")
        else:
            await self.store("series", [s async for s in self.rest.pages("/series", "series")])

    async def _load_events(self) -> None:
        """Events tell each market's series (a market object does not name it)."""
        if self.selection.settings.events:
            for ticker in self.selection.settings.events:
                await self._fetch("events", f"/events/{ticker}", "event")
            return
        await _together(self._pages("/events", "events",
                                    {"series_ticker": q["series_ticker"]} if q.get("series_ticker")
                                    else {}, limit=200)
                        for q in self.selection.dimensions())

    async def _pages(self, path: str, key: str, params: dict, series: str | None = None,
                     limit: int = 1000) -> None:
        """Every page of a list, each stored as it arrives (the next one is asked for while
        it is stored)."""
        query = dict(params, limit=limit)
        page = await self.rest.get(path, query)
        while True:
            following = None
            if page.get("cursor"):
                following = asyncio.ensure_future(
                    self.rest.get(path, dict(query, cursor=page["cursor"])))
            try:
                await self.store(key, page.get(key) or [], series)
            except BaseException:
                if following is not None:
                    following.cancel()
                raise
            if following is None:
                return
            page = await following

    async def refresh(self) -> None:
        """Markets changed since the last refresh (a minute of overlap: clocks differ)."""
        if not self.loaded.is_set():
            return
        started = time.time()
        since = int((self.last_refresh or started) - 60)
        await _together(self._pages("/markets", "markets", query, query.get("series_ticker"))
                        for query in self.selection.refresh_queries(since))
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
            sql_text, params = lifecycle.statement(version, self._last_frame,
                                                   datetime.now(timezone.utc), known)
            listing = version.table != "markets" or msg.get("event_type") == "created"
            had_row = await self._execute(kind, sql_text, params, None if listing else key)
        if had_row is not None:  # a market we had no row of was listed unseen (0085)
            await self._remember_frame(version.table, key, version.columns,
                                       None if had_row else {})

    async def _remember_frame(self, table: str, key: str, columns: dict,
                              listed: dict | None) -> None:
        if table == "events" and columns.get("series_ticker"):
            self.event_series[key] = columns["series_ticker"]
        if table == "markets" and columns.get("status"):
            event = columns.get("event_ticker")
            await self._changed([self._track(key, event, self.event_series.get(event), False,
                                             columns["status"])], listed)

    async def _execute(self, kind: str, sql_text: str, params: list,
                       market: str | None) -> bool | None:
        """Applies a frame: None when refused, else whether `market` (if named) had a row."""
        async with await psycopg.AsyncConnection.connect(self.dsn) as conn:
            try:
                had_row = market is None or (await (await conn.execute(
                    "select exists (select from kstore.markets where market_ticker = %s)",
                    [market])).fetchone())[0]
                await conn.execute(sql_text, params)
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                self.counts["rejected"] += 1
                log.warning("registry: %s frame rejected: %s", kind, exc)
                return None
        self.counts["frames"] += 1
        return had_row

    async def store(self, table: str, objects: Iterable[dict], series: str | None = None) -> None:
        """Stores one page in one statement; a page the database refuses is stored object by
        object, each in its own savepoint (a bad one is counted and logged, not fatal).
        `series`: the series the page was asked for (a market object does not name it)."""
        objects = list(objects)
        if not objects:
            return
        observed_at = datetime.now(timezone.utc)
        for obj in objects:
            self._remember(table, obj)
        rows = [row(table, obj, observed_at, self._known(obj, series)) for obj in objects]
        async with await psycopg.AsyncConnection.connect(self.dsn) as conn:
            try:
                async with conn.transaction():
                    stored = dict(await self._bulk(conn, table, rows))
                self.counts[table] += len(objects)
            except (psycopg.DataError, psycopg.IntegrityError):
                stored = await self._one_by_one(conn, table, objects, rows)
        if table == "markets":
            await self._changed([self._track_object(obj, stored, series) for obj in objects
                                 if obj.get("ticker")],
                                {obj.get("ticker"): listings.rest_time(obj.get("created_time"))
                                 for obj in objects})

    def _known(self, obj: dict, series: str | None) -> dict:
        return {"series_ticker": self.event_series.get(obj.get("event_ticker")) or series}

    async def _bulk(self, conn: psycopg.AsyncConnection, table: str, rows: list[tuple]
                    ) -> list[tuple]:
        """COPY the page into the table's staging table, then one upsert from it."""
        load = self._stage.get(table)
        if load is None:
            found = await copyload.columns_async(conn, table)
            load = copyload.load_sql(table, copyload.typed(table, columns_of(table), found))
            self._stage[table] = load
        await conn.execute(load.stage)
        stage = sql.Identifier(f"kstore_stage_{table}")
        async with conn.cursor() as cursor:
            copy_text = sql.SQL("copy {} ({}) from stdin").format(
                stage, sql.SQL(", ").join(map(sql.Identifier, load.columns)))
            async with cursor.copy(copy_text) as copy:
                for values in rows:
                    await copy.write_row(values)
            await cursor.execute(page_sql(table, stage))
            return await cursor.fetchall()

    async def _one_by_one(self, conn, table: str, objects: list[dict], rows: list[tuple]
                          ) -> dict[str, str | None]:
        stored: dict[str, str | None] = {}
        for obj, values in zip(objects, rows):
            try:
                async with conn.transaction():
                    cursor = await conn.execute(upsert_sql(table), values)
                    if table == "markets":
                        found = await cursor.fetchone()
                        if found is not None:
                            stored[obj["ticker"]] = found[0]
                self.counts[table] += 1
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                self.counts["rejected"] += 1
                log.warning("registry: %s object rejected: %s", table, exc)
        return stored

    def _remember(self, table: str, obj: dict) -> None:
        if table == "events" and obj.get("event_ticker"):
            self.event_series[obj["event_ticker"]] = obj.get("series_ticker")

    def _track_object(self, obj: dict, stored: dict, series: str | None) -> tuple:
        """A market's status is its row's: a REST answer older than the row (a stale answer
        after a lifecycle frame) does not change it (decision 0024)."""
        ticker = obj["ticker"]
        self._unconfirmed.discard(ticker)
        if ticker in stored:
            status = stored[ticker] or ""
        else:
            status = self.statuses.get(ticker, obj.get("status") or "")
        event = obj.get("event_ticker")
        return self._track(ticker, event, self.event_series.get(event) or series, is_mve(obj),
                           status)

    def _track(self, ticker: str, event: str | None, series: str | None, mve: bool,
               status: str) -> tuple[str, bool, bool]:
        """(ticker, selected before, selected now); a market is held once selected."""
        wanted = self.selection.statuses
        before = self.statuses.get(ticker) in wanted
        if ticker in self.statuses or self.selection.selects(ticker, event, series, mve, status):
            self.statuses[ticker] = status
        return ticker, before, self.statuses.get(ticker) in wanted

    async def _changed(self, changes: list[tuple[str, bool, bool]],
                       listed: dict[str, datetime | None] | None = None) -> None:
        """Markets entering or leaving the selection to `on_change`; after the first load,
        one entering that we did not see listed (`listed`: by REST, with its created_time, or
        by a frame about a market without a row) goes to `on_late` first (listings.py)."""
        added = [t for t, before, now in changes if now and not before]
        removed = [t for t, before, now in changes if before and not now]
        if added and listed is not None and self.loaded.is_set() and self.on_late is not None:
            self.on_late({t: listed.get(t) for t in added})
        if (added or removed) and self.on_change is not None:
            await self.on_change(added, removed)


PAGERS = 4  # lists paged at the same time (each one page after the other); the budget still rules


async def _together(pagers) -> None:
    """Runs the pagers PAGERS at a time: a load of many filters is not one round trip per page
    after the other, and the REST client's token bucket still paces every request."""
    gate = asyncio.Semaphore(PAGERS)

    async def one(pager) -> None:
        async with gate:
            await pager

    tasks = [asyncio.ensure_future(one(pager)) for pager in pagers]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
