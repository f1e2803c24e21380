"""The REST side of a replay: a universe derived from the recorded frames, plus fixed answers.

Every market ticker a text frame names becomes an active market (so a gatherer lists and
subscribes it), grouped into an event and series taken from lifecycle frames when they say,
else from the ticker (`SERIES-EVENT-MARKET`: event = all before the last `-`, series = all
before the first). A market's REST order book is its first recorded `orderbook_snapshot`
(levels as sent), and valid recorded trades fill `GET /markets/trades`. `rest` records in the
file answer their path instead, whatever the universe says.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from websockets.http11 import Response

from . import rest
from .replay_file import Recording
from .tape import TradeTape
from .universe import DAY_MS, GRIDS, Event, Market, Series, Universe

TRADE_FIELDS = ("trade_id", "market_ticker", "yes_price_dollars", "no_price_dollars", "count_fp",
                "ts_ms")


class Trades:
    """What rest.list_trades reads from a simulator (`sim.generator.tape`)."""

    def __init__(self) -> None:
        self.tape = TradeTape()


def build(recording: Recording, base_ms: int) -> tuple[Universe, Trades]:
    universe, trades = Universe(), Trades()
    for message in recording.messages(base_ms):
        msg = message.get("msg")
        if not isinstance(msg, dict):
            continue
        if message.get("type") == "event_lifecycle" and isinstance(msg.get("event_ticker"), str):
            _event(universe, msg["event_ticker"], msg.get("series_ticker"), base_ms, msg)
        ticker = msg.get("market_ticker")
        if isinstance(ticker, str) and ticker:
            market = universe.markets.get(ticker) or _market(universe, ticker, msg, base_ms)
            _observe(market, message.get("type"), msg, trades)
    return universe, trades


def _event(universe: Universe, ticker: str, series: object, base_ms: int, msg: dict) -> Event:
    if ticker in universe.events:
        return universe.events[ticker]
    series_ticker = series if isinstance(series, str) and series else ticker.split("-")[0]
    if series_ticker not in universe.series:
        universe.series[series_ticker] = Series(series_ticker, series_ticker, "Replay", "custom")
    title = msg.get("title") if isinstance(msg.get("title"), str) else ticker
    event = Event(ticker, series_ticker, title, "", base_ms + DAY_MS)
    universe.events[ticker] = event
    return event


def _market(universe: Universe, ticker: str, msg: dict, base_ms: int) -> Market:
    meta = msg.get("additional_metadata") if isinstance(msg.get("additional_metadata"), dict) else {}
    event_ticker = meta.get("event_ticker")
    if not isinstance(event_ticker, str) or not event_ticker:
        event_ticker = ticker.rsplit("-", 1)[0]
    event = _event(universe, event_ticker, None, base_ms, {})
    structure = msg.get("price_level_structure")
    market_id = msg.get("market_id")
    created = base_ms - DAY_MS
    market = Market(
        ticker=ticker,
        market_id=market_id if isinstance(market_id, str) else str(uuid.uuid5(uuid.NAMESPACE_URL, ticker)),
        event_ticker=event.event_ticker, series_ticker=event.series_ticker,
        position=len(universe.order), structure=structure if structure in GRIDS else "linear_cent",
        decimals=4, step=10_000, fair=500_000, fractional=False, strike=0,
        created_ms=created, updated_ms=created, open_ms=created - created % 3_600_000,
        close_ms=base_ms + DAY_MS,
    )
    universe.add_market(market)
    return market


def _observe(market: Market, kind: object, msg: dict, trades: Trades) -> None:
    """Seed the REST book from the first snapshot; put well-formed trades on the tape."""
    if kind == "orderbook_snapshot" and not market.book.levels["yes"] and not market.book.levels["no"]:
        _seed_book(market, msg)
    elif kind == "trade" and all(key in msg for key in TRADE_FIELDS) and isinstance(msg["ts_ms"], int):
        fields = ("taker_outcome_side", "taker_book_side", "taker_side", "is_block_trade")
        trades.tape.append(msg["ts_ms"], market.ticker, {key: msg.get(key) for key in fields} | msg)


def _seed_book(market: Market, msg: dict) -> None:
    """Levels in micro-dollars and centi-contracts; a snapshot that does not convert is skipped."""
    book = {}
    try:
        for side in ("yes", "no"):
            for price, size in msg.get(f"{side}_dollars_fp") or []:
                micro, centi = Decimal(price) * 1_000_000, Decimal(size) * 100
                if micro != int(micro) or centi != int(centi) or centi <= 0:
                    return
                book[(side, int(micro))] = int(centi)
                if -Decimal(price).as_tuple().exponent > 4:
                    market.decimals = 6
    except (InvalidOperation, TypeError, ValueError, OverflowError):
        return
    for (side, micro), centi in book.items():
        market.book.apply(side, micro, centi)


def answer(recording: Recording, path: str, query: str) -> Response | None:
    """The file's `rest` answer for `path?query`, else for `path`, else None."""
    found = recording.rest.get(f"{path}?{query}") if query else None
    found = found or recording.rest.get(path)
    return None if found is None else rest.json_response(*found)
