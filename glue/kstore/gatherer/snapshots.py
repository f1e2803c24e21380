"""Periodic REST order books (`source = 'rest'`): a cross-check of the WebSocket books.

One round fetches every subscribed market's book through the batch endpoint
(`GET /markets/orderbooks?tickers=`, `rest.book_batch` tickers per call), the calls spread
evenly over `interval` at the budget's lowest priority, so registry and lifecycle requests
never wait behind books. A selection whose round needs more than `book_share` of the budget
stretches the round (one warning per size): books are late, the budget is never exceeded
(decision 0065). A book that fails validation is quarantined like a bad frame; any other
failure of one call is logged once per streak, counted in `errors` and never ends the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import Counter
from datetime import datetime, timezone

from kstore.budget import BOOKS
from kstore.gatherer.parse import REST_BOOK, Invalid, validate
from kstore.gatherer.rest import ExchangeError, RestClient
from kstore.gatherer.retry import first_line
from kstore.gatherer.rows import row_of

log = logging.getLogger("kstore.gather")


def round_plan(tickers: list[str], batch: int, interval: float, rate: float,
               share: float) -> tuple[list[list[str]], float]:
    """The calls of one round and the seconds between their starts: the round spread over
    `interval`, but never faster than `share` of `rate` calls per second."""
    calls = [tickers[i:i + batch] for i in range(0, len(tickers), batch)]
    if not calls:
        return calls, interval
    return calls, max(interval / len(calls), 1.0 / (rate * share))


async def snapshot_loop(rest: RestClient, markets, put, gatherer_id: str, interval: float,
                        stop: asyncio.Event, errors: Counter | None = None,
                        batch: int = 100, share: float = 0.5) -> None:
    errors = errors if errors is not None else Counter()
    warned: set[int] = set()
    while not stop.is_set():
        started = time.monotonic()
        calls, spacing = round_plan(list(markets()), batch, interval, rest.budget.rate, share)
        if calls and spacing * len(calls) > interval * 1.01 and len(calls) not in warned:
            warned.add(len(calls))
            log.warning("gather: one REST book round needs %d calls: %.0f s at %.3g calls/s, "
                        "longer than snapshot_interval %.0f s", len(calls),
                        spacing * len(calls), 1 / spacing, interval)
        await _round(rest, calls, spacing, put, gatherer_id, stop, errors)
        if calls and not stop.is_set():
            log.info("gather: REST book round: %d books in %d calls, %.1f s",
                     sum(map(len, calls)), len(calls), time.monotonic() - started)
        left = max(0.0, interval - (time.monotonic() - started)) if calls else interval
        if await _stopped(stop, left):
            return


async def _round(rest: RestClient, calls: list[list[str]], spacing: float, put,
                 gatherer_id: str, stop: asyncio.Event, errors: Counter) -> None:
    last = None
    for number, tickers in enumerate(calls):
        if number and await _stopped(stop, spacing):
            return
        try:
            await snapshot_batch(rest, tickers, put, gatherer_id)
        except Exception as exc:  # noqa: BLE001 -- one call never stops the others
            errors["rest books"] += 1
            text = f"{type(exc).__name__}: {first_line(exc)}"
            if text != last:
                log.error("gather: REST books %s… failed (%s)", tickers[0], text)
            last = text


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        return False
    return True


async def snapshot_batch(rest: RestClient, tickers: list[str], put, gatherer_id: str) -> None:
    """One GET /markets/orderbooks for up to 100 tickers; one row (or quarantine) per book."""
    try:
        answer = await rest.get("/markets/orderbooks", {"tickers": ",".join(tickers)}, BOOKS)
    except ExchangeError as exc:
        log.warning("gather: REST books %s…: %s", tickers[0], exc)
        return
    captured_at = datetime.now(timezone.utc)
    books = answer.get("orderbooks")
    if not isinstance(books, list):
        books = [{"ticker": tickers[0], "orderbook_fp": None, "error": "no orderbooks list"}]
    wanted = set(tickers)
    for entry in books:
        ticker = entry.get("ticker") if isinstance(entry, dict) else None
        if ticker in wanted:
            store_book(ticker, entry, captured_at, put, gatherer_id)


def store_book(ticker: str, answer: dict, captured_at: datetime, put, gatherer_id: str) -> None:
    book = answer.get("orderbook_fp")
    values = {"market_ticker": ticker, "captured_at": captured_at, "gatherer_id": gatherer_id,
              "received_at": captured_at}
    try:
        if not isinstance(book, dict):
            raise Invalid("REST answer has no orderbook_fp object")
        levels = validate(REST_BOOK, book)
    except Invalid as exc:
        put("quarantine", row_of("quarantine", values | {
            "connection_id": "rest", "reason": f"REST book {ticker}: {exc}",
            "raw": json.dumps(answer).encode()}))
        return
    put("orderbook_snapshots", row_of("orderbook_snapshots", values | levels | {
        "source": "rest", "use_yes_price": False, "sid": None, "seq": None,
        "connection_id": None}))
