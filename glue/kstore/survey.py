"""What the market selection selects on the exchange, before anything is captured.

`survey(settings)` asks the exchange in the settings the same questions the registry's full load
asks (kstore.selection: server-side filters, maximum pages) and stores nothing: it counts the
selected order books per category, series and status, checks them against the configured
limits and states what they cost in REST calls (the load itself, one round of order books
through the batch endpoint). Memory holds counts, not markets.
"""

from __future__ import annotations

from collections import Counter

from kstore.budget import Budget
from kstore.gatherer.rest import RestClient
from kstore.selection import (
    Selection, SelectionError, book_round, capacity, check_limits, is_mve)
from kstore.settings import Settings

UNKNOWN = "(unknown)"


async def survey(settings: Settings) -> dict:
    g = settings.gather
    rate = settings.rest.rate()
    rest = RestClient(settings.kalshi, Budget(rate))
    try:
        selection, category_of = await _series(rest, Selection(g.selection))
        series_of = await _events(rest, selection)
        counts = {"category": Counter(), "series": Counter(), "status": Counter()}
        sample: list[str] = []
        for query in selection.queries():
            async for market in rest.pages("/markets", "markets", query):
                series = series_of.get(market.get("event_ticker")) or query.get("series_ticker")
                if not selection.selects_object(market, series):
                    continue
                _count(counts, market, series, category_of)
                if len(sample) < 10:
                    sample.append(market["ticker"])
        return _report(settings, counts, sample, rest.requests)
    finally:
        await rest.close()


def _count(counts: dict, market: dict, series: str | None, category_of: dict) -> None:
    counts["series"][series or UNKNOWN] += 1
    counts["category"][category_of.get(series, UNKNOWN)] += 1
    counts["status"][market.get("status") or UNKNOWN] += 1
    if is_mve(market):
        counts["status"]["of them MVE"] += 1


async def _series(rest: RestClient, selection: Selection) -> tuple[Selection, dict]:
    """Categories resolved to their series; the category of every series asked about."""
    settings, category_of = selection.settings, {}
    if settings.categories:
        for category in settings.categories:
            for series in (await rest.get("/series", {"category": category})).get("series") or []:
                category_of[series["ticker"]] = category
        return Selection(settings, frozenset(category_of)), category_of
    async for series in rest.pages("/series", "series"):
        category_of[series.get("ticker")] = series.get("category") or UNKNOWN
    return selection, category_of


async def _events(rest: RestClient, selection: Selection) -> dict:
    """event -> series, for queries that do not name the series."""
    series_of: dict = {}
    for query in selection.dimensions():
        if "series_ticker" in query:
            continue
        params = {"event_ticker": query["event_ticker"]} if "event_ticker" in query else {}
        if params:
            found = (await rest.get(f"/events/{params['event_ticker']}")).get("event") or {}
            series_of[found.get("event_ticker")] = found.get("series_ticker")
            continue
        async for event in rest.pages("/events", "events", limit=200):
            series_of[event.get("event_ticker")] = event.get("series_ticker")
    return series_of


def _report(settings: Settings, counts: dict, sample: list[str], requests: int) -> dict:
    g, rate = settings.gather, settings.rest.rate()
    books = sum(counts["series"].values())
    try:
        check_limits(books, g)
        refused = None
    except SelectionError as exc:
        refused = str(exc)
    return {
        "books": books, "sample": sample,
        "categories": dict(counts["category"].most_common()),
        "series": dict(counts["series"].most_common()),
        "statuses": {k: v for k, v in counts["status"].most_common() if v},
        "limits": {"capacity": capacity(g), "max_books": g.selection.max_books,
                   "connections": g.connections,
                   "subscriptions": -(-books // g.markets_per_subscription)},
        "rest": {"rate": rate, "load_calls": requests,
                 "load_seconds": round(requests / rate, 1),
                 "book_round": book_round(books, rate),
                 "book_round_interval": g.snapshot_interval},
        "refused": refused,
    }


def text(report: dict, top: int = 15) -> str:
    """The report for people: totals, the largest categories and series, the REST cost."""
    rest, limits = report["rest"], report["limits"]
    lines = [f"selected order books: {report['books']} ({limits['subscriptions']} "
             f"subscriptions over {limits['connections']} connection(s), capacity "
             f"{limits['capacity']})"]
    for name in ("categories", "series", "statuses"):
        items = list(report[name].items())
        shown = ", ".join(f"{k} {v}" for k, v in items[:top])
        lines.append(f"{name}: {shown}{f', … ({len(items) - top} more)' if len(items) > top else ''}")
    lines.append(f"REST: the load took {rest['load_calls']} calls (~{rest['load_seconds']} s at "
                 f"{rest['rate']:g}/s); one round of books is {rest['book_round']['calls']} "
                 f"batch calls (~{rest['book_round']['seconds']} s, every "
                 f"{rest['book_round_interval']:g} s)")
    if report["refused"]:
        lines.append(f"refused: {report['refused']}")
    return "\n".join(lines)
