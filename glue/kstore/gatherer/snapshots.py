"""Periodic REST order books (`source = 'rest'`): a cross-check of the WebSocket books.

Every `interval` seconds, one GET /markets/{ticker}/orderbook per subscribed market, paced by
the REST client's token bucket (the Basic tier's ~20 reads/s by default). A book that fails
validation is quarantined like a bad frame. Any other failure of one market's book (a
malformed answer, a bug) is logged once per streak, counted in `errors` and never ends the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from datetime import datetime, timezone

from kstore.gatherer.parse import REST_BOOK, Invalid, validate
from kstore.gatherer.rest import ExchangeError, RestClient
from kstore.gatherer.retry import first_line
from kstore.gatherer.rows import row_of

log = logging.getLogger("kstore.gather")


async def snapshot_loop(rest: RestClient, markets, put, gatherer_id: str, interval: float,
                        stop: asyncio.Event, errors: Counter | None = None) -> None:
    errors = errors if errors is not None else Counter()
    last = None
    while not stop.is_set():
        for ticker in markets():
            if stop.is_set():
                return
            try:
                await snapshot_one(rest, ticker, put, gatherer_id)
            except Exception as exc:  # noqa: BLE001 -- one book never stops the others
                errors["rest books"] += 1
                text = f"{type(exc).__name__}: {first_line(exc)}"
                if text != last:
                    log.error("gather: REST book %s failed (%s)", ticker, text)
                last = text
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except asyncio.TimeoutError:
            pass


async def snapshot_one(rest: RestClient, ticker: str, put, gatherer_id: str) -> None:
    try:
        answer = await rest.get(f"/markets/{ticker}/orderbook")
    except ExchangeError as exc:
        log.warning("gather: REST book %s: %s", ticker, exc)
        return
    captured_at = datetime.now(timezone.utc)
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
