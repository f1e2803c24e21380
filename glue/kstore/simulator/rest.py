"""REST v2 endpoints a gatherer uses (KALSHI-API.md §5), routed by a table of handlers.

Lists paginate with an opaque cursor that names the last item returned (markets and events in
creation order, trades newest first), so items added between pages are never skipped or
repeated; an empty cursor means done. Errors: 400/404 with {"error":{"code","message"}}.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import itertools
import json
import re
from typing import TYPE_CHECKING, Callable
from urllib.parse import parse_qs

from websockets.datastructures import Headers
from websockets.http11 import Response

from .rest_objects import event_object, market_object, orderbook_object, series_object
from .tape import TradeQuery
from .units import rfc3339, wall_ms
from .universe import STATUS_FILTER, Market

if TYPE_CHECKING:
    from .server import Simulator

PREFIX = "/trade-api/v2"
EVENT_STATUS = {  # /events status filter -> predicate over the event's market statuses
    "open": lambda statuses: "active" in statuses,
    "closed": lambda statuses: "active" not in statuses and statuses != {"finalized"},
    "settled": lambda statuses: statuses == {"finalized"},
}


class RestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Query:
    """Query-string access with typed getters that fail as HTTP 400."""

    def __init__(self, text: str) -> None:
        self.values = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}

    def text(self, name: str) -> str | None:
        return self.values.get(name) or None

    def integer(self, name: str, default: int | None = None, low: int = 0, high: int = 2**62) -> int | None:
        raw = self.values.get(name)
        if raw in (None, ""):
            return default
        if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
            raise RestError(400, "invalid_parameters", f"{name} must be an integer in [{low}, {high}]")
        return int(raw)

    def cursor(self) -> int | None:
        raw = self.text("cursor")
        if raw is None:
            return None
        try:
            return int(base64.urlsafe_b64decode(raw.encode()).decode().removeprefix("p"))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise RestError(400, "invalid_parameters", "invalid cursor") from None


def make_cursor(position: int | None) -> str:
    return "" if position is None else base64.urlsafe_b64encode(f"p{position}".encode()).decode()


def page(items: list[tuple[int, object]], query: Query, max_limit: int) -> tuple[list, str]:
    """Items (position, obj) after the cursor, at most `limit`, and the next cursor."""
    limit = query.integer("limit", 100, 1, max_limit)
    after = query.cursor()
    rest = [(pos, obj) for pos, obj in items if after is None or pos > after]
    chosen = rest[:limit]
    more = len(rest) > limit
    return [obj for _, obj in chosen], make_cursor(chosen[-1][0] if more else None)


def list_series(sim: Simulator, query: Query) -> dict:
    category = query.text("category")
    return {"series": [series_object(s) for s in sim.universe.series.values() if category in (None, s.category)]}


def get_series(sim: Simulator, query: Query, ticker: str) -> dict:
    if ticker not in sim.universe.series:
        raise RestError(404, "not_found", f"series {ticker} not found")
    return {"series": series_object(sim.universe.series[ticker])}


def _event_with_markets(sim: Simulator, event_ticker: str, nested: bool) -> dict:
    event = sim.universe.events[event_ticker]
    obj = event_object(event, sim.universe.series[event.series_ticker].category)
    if nested:
        obj["markets"] = [market_object(sim.universe.markets[t]) for t in event.markets]
    return obj


def list_events(sim: Simulator, query: Query) -> dict:
    status, series = query.text("status"), query.text("series_ticker")
    if status is not None and status not in EVENT_STATUS:
        raise RestError(400, "invalid_parameters", f"status must be one of {sorted(EVENT_STATUS)}")
    universe = sim.universe
    chosen = [(pos, e) for pos, e in enumerate(universe.events.values())
              if series in (None, e.series_ticker) and not _multivariate(universe, e)
              and (status is None or EVENT_STATUS[status]({universe.markets[t].status for t in e.markets}))]
    events, cursor = page(chosen, query, 200)
    nested = query.text("with_nested_markets") == "true"
    return {"events": [_event_with_markets(sim, e.event_ticker, nested) for e in events], "cursor": cursor}


def get_event(sim: Simulator, query: Query, ticker: str) -> dict:
    if ticker not in sim.universe.events:
        raise RestError(404, "not_found", f"event {ticker} not found")
    nested = query.text("with_nested_markets") == "true"
    markets = [market_object(sim.universe.markets[t]) for t in sim.universe.events[ticker].markets]
    return {"event": _event_with_markets(sim, ticker, nested), "markets": markets}


def _multivariate(universe, event) -> bool:
    """/events leaves out multivariate events (they are under /events/multivariate)."""
    return bool(event.markets) and universe.markets[event.markets[0]].mve_collection is not None


MVE_FILTERS = {"exclude": lambda m: m.mve_collection is None, "only": lambda m: m.mve_collection is not None}


def _market_filter(query: Query) -> Callable[[Market], bool]:
    status = query.text("status")
    if status is not None and status not in STATUS_FILTER:
        raise RestError(400, "invalid_parameters", f"status must be one of {sorted(STATUS_FILTER)}")
    statuses = STATUS_FILTER.get(status or "")
    tickers = set(query.text("tickers").split(",")) if query.text("tickers") else None
    event, series = query.text("event_ticker"), query.text("series_ticker")
    min_updated = query.integer("min_updated_ts")
    min_ms = None if min_updated is None else min_updated * 1000
    mve = _mve_filter(query, min_updated is not None)
    return lambda m: (
        (statuses is None or m.status in statuses)
        and (tickers is None or m.ticker in tickers)
        and event in (None, m.event_ticker)
        and series in (None, m.series_ticker)
        and (min_ms is None or m.updated_ms >= min_ms)
        and (mve is None or mve(m))
    )


def _mve_filter(query: Query, incremental: bool) -> Callable[[Market], bool] | None:
    """`mve_filter` (exclude|only); the exchange accepts `min_updated_ts` only with exclude."""
    name = query.text("mve_filter")
    if name is not None and name not in MVE_FILTERS:
        raise RestError(400, "invalid_parameters", f"mve_filter must be one of {sorted(MVE_FILTERS)}")
    if incremental and name != "exclude":
        raise RestError(400, "invalid_parameters", "min_updated_ts requires mve_filter=exclude")
    return MVE_FILTERS.get(name or "")


def _candidates(sim: Simulator, query: Query) -> list[Market]:
    """The markets a query can select, in creation order: an event's, a series', or all."""
    universe, event, series = sim.universe, query.text("event_ticker"), query.text("series_ticker")
    if event is not None:
        return [universe.markets[t] for t in universe.events[event].markets] if event in universe.events else []
    if series is not None:
        return universe.by_series.get(series, [])
    return universe.order


def list_markets(sim: Simulator, query: Query) -> dict:
    """One page in creation order from the cursor on; only the page's markets are filtered past
    the cursor, so paging a catalogue of 200k markets costs one pass in all."""
    keep, limit, after = _market_filter(query), query.integer("limit", 100, 1, 1000), query.cursor()
    candidates = _candidates(sim, query)
    start = 0 if after is None else bisect.bisect_right(candidates, after, key=lambda m: m.position)
    chosen: list[Market] = []
    for market in itertools.islice(candidates, start, None):
        if keep(market):
            if len(chosen) == limit:
                return {"markets": [market_object(m) for m in chosen], "cursor": make_cursor(chosen[-1].position)}
            chosen.append(market)
    return {"markets": [market_object(m) for m in chosen], "cursor": ""}


def _market(sim: Simulator, ticker: str) -> Market:
    market = sim.universe.markets.get(ticker)
    if market is None:
        raise RestError(404, "not_found", f"market {ticker} not found")
    return market


def get_market(sim: Simulator, query: Query, ticker: str) -> dict:
    return {"market": market_object(_market(sim, ticker))}


def get_orderbook(sim: Simulator, query: Query, ticker: str) -> dict:
    return orderbook_object(_market(sim, ticker), query.integer("depth", 0, 0, 100))


def trade_object(ts_ms: int, msg: dict) -> dict:
    fields = ("trade_id", "count_fp", "yes_price_dollars", "no_price_dollars", "taker_outcome_side",
              "taker_book_side", "taker_side", "is_block_trade")
    return {"ticker": msg["market_ticker"], **{k: msg[k] for k in fields}, "created_time": rfc3339(ts_ms, True)}


def list_trades(sim: Simulator, query: Query) -> dict:
    """Live trades: those at or after the historical cutoff (all of them without one)."""
    return _trades(sim, query, max(query.integer("min_ts") or 0, trades_cutoff_s(sim)), query.integer("max_ts"))


def list_historical_trades(sim: Simulator, query: Query) -> dict:
    """`GET /historical/trades`: the same shape, trades before the cutoff only."""
    top = trades_cutoff_s(sim) - 1  # max_ts is inclusive of its whole second
    max_ts = query.integer("max_ts")
    return _trades(sim, query, query.integer("min_ts"), top if max_ts is None else min(max_ts, top))


def _trades(sim: Simulator, query: Query, min_ts: int | None, max_ts: int | None) -> dict:
    trade_query = TradeQuery(query.text("ticker"), min_ts, max_ts, query.cursor())
    msgs, next_number = sim.generator.tape.page(trade_query, query.integer("limit", 100, 1, 1000))
    return {"trades": [trade_object(m["ts_ms"], m) for m in msgs], "cursor": make_cursor(next_number)}


def trades_cutoff_s(sim: Simulator) -> int:
    """Unix second before which trades are only on /historical/trades (`historical_after`
    seconds before now; without it, before any trade)."""
    after = sim.options.historical_after
    return 0 if after is None else int(wall_ms() / 1000 - after)


def historical_cutoff(sim: Simulator, query: Query) -> dict:
    cutoff = trades_cutoff_s(sim)
    return {"trades_created_ts": cutoff, "market_settled_ts": cutoff, "orders_updated_ts": cutoff}


def get_orderbooks(sim: Simulator, query: Query) -> dict:
    """`GET /markets/orderbooks?tickers=a,b`: up to 100 books; unknown tickers are left out."""
    tickers = [t for t in (query.text("tickers") or "").split(",") if t]
    if not 1 <= len(tickers) <= 100:
        raise RestError(400, "invalid_parameters", "tickers must name 1 to 100 markets")
    markets = [sim.universe.markets[t] for t in dict.fromkeys(tickers) if t in sim.universe.markets]
    return {"orderbooks": [{"ticker": m.ticker, **orderbook_object(m, 0)} for m in markets]}


def exchange_status(sim: Simulator, query: Query) -> dict:
    return {"exchange_active": True, "trading_active": True, "exchange_estimated_resume_time": None}


ROUTES: list[tuple[re.Pattern[str], Callable[..., dict]]] = [
    (re.compile(PREFIX + pattern), handler)
    for pattern, handler in (
        ("/series", list_series),
        ("/series/(?P<ticker>[^/]+)", get_series),
        ("/events", list_events),
        ("/events/(?P<ticker>[^/]+)", get_event),
        ("/markets", list_markets),
        ("/markets/trades", list_trades),
        ("/markets/orderbooks", get_orderbooks),
        ("/historical/trades", list_historical_trades),
        ("/historical/cutoff", historical_cutoff),
        ("/markets/(?P<ticker>[^/]+)", get_market),
        ("/markets/(?P<ticker>[^/]+)/orderbook", get_orderbook),
        ("/exchange/status", exchange_status),
    )
]


def json_response(status: int, obj: dict) -> Response:
    body = json.dumps(obj, separators=(",", ":")).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")])
    return Response(status, {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
                             405: "Method Not Allowed", 429: "Too Many Requests"}.get(status, "Error"), headers, body)


def respond(sim: Simulator, method: str, path: str, query_text: str) -> Response:
    """Answer one REST request; the first route whose pattern matches the whole path wins."""
    if method != "GET":
        return json_response(405, {"error": {"code": "method_not_allowed", "message": "only GET is served"}})
    for pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            try:
                return json_response(200, handler(sim, Query(query_text), **match.groupdict()))
            except RestError as exc:
                return json_response(exc.status, {"error": {"code": exc.code, "message": exc.message}})
    return json_response(404, {"error": {"code": "not_found", "message": f"no route for {path}"}})
