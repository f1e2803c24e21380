"""Market selection: which order books a gatherer captures (settings `gather.selection`).

Contract: a market is selected when it matches every filter that is set (an empty list does not
filter): its status is one of `statuses` (REST filter vocabulary, mapped to both response
vocabularies), it is not an MVE market unless `include_mve`, its series is one of `series` and
belongs to one of `categories`, its event is one of `events`, its ticker matches one of the
`tickers` patterns. The same rule answers for a REST object, a lifecycle frame's columns and a
stored row (`stored_selection`), so the REST load, the refresh and `kstore markets` agree.
`queries` are the server-side filters that fetch a superset of the selection, and
`check_limits` refuses a selection the configured connections cannot carry (decision 0061).
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from kstore.settings import GatherSettings, SelectionSettings, SettingsError

# REST status filter -> the statuses a market row holds (REST response vocabulary, plus the
# filter words themselves, which some lifecycle paths store).
RESPONSE_STATUSES = {
    "unopened": frozenset({"initialized", "unopened"}),
    "open": frozenset({"active", "open"}),
    "paused": frozenset({"inactive", "paused"}),
    "closed": frozenset({"closed", "determined", "disputed", "amended"}),
    "settled": frozenset({"finalized", "settled"}),
}
PER_SERIES_QUERIES = 100  # more series than this: page the filtered catalogue instead
BATCH_BOOKS = 100  # tickers per GET /markets/orderbooks (KALSHI-API.md §5.5)


class SelectionError(SettingsError):
    """The selection cannot be captured as configured: one line, non-zero exit."""


@dataclass(frozen=True)
class Selection:
    """The settings' selection, with its categories resolved to series (`category_series`,
    None when no category is set)."""

    settings: SelectionSettings
    category_series: frozenset[str] | None = None

    @property
    def statuses(self) -> frozenset[str]:
        return frozenset().union(*(RESPONSE_STATUSES[s] for s in self.settings.statuses))

    @property
    def series(self) -> frozenset[str] | None:
        """Series a selected market may belong to (None: any)."""
        chosen = frozenset(self.settings.series) or None
        if self.category_series is None:
            return chosen
        return self.category_series if chosen is None else chosen & self.category_series

    def matches(self, ticker: str, event: str | None, series: str | None, mve: bool) -> bool:
        """Every filter but the status."""
        s = self.settings
        wanted = self.series
        return ((s.include_mve or not mve)
                and (wanted is None or series in wanted)
                and (not s.events or event in s.events)
                and (not s.tickers or any(_pattern(p).match(ticker) for p in s.tickers)))

    def selects(self, ticker: str, event: str | None, series: str | None, mve: bool,
                status: str | None) -> bool:
        return status in self.statuses and self.matches(ticker, event, series, mve)

    def selects_object(self, market: dict, series: str | None = None) -> bool:
        """A REST market object (`series`: its series when the caller knows it)."""
        return self.selects(market.get("ticker") or "", market.get("event_ticker"),
                            market.get("series_ticker") or series, is_mve(market),
                            market.get("status"))

    def queries(self) -> list[dict]:
        """GET /markets query params whose union holds every selected market: one per status
        filter and series (or event), MVE excluded server-side unless wanted."""
        return [dict(base, status=status) for status in self.settings.statuses
                for base in self.dimensions()]

    def refresh_queries(self, since: int) -> list[dict]:
        """Markets changed since `since` (Unix s): no status filter (a market that leaves the
        selection must be seen), `mve_filter=exclude` (the API requires it with
        min_updated_ts; MVE markets are refreshed by the next full load)."""
        return [dict(base, min_updated_ts=since, mve_filter="exclude")
                for base in self.dimensions()]

    def dimensions(self) -> list[dict]:
        mve = {} if self.settings.include_mve else {"mve_filter": "exclude"}
        if self.settings.events:
            return [dict(mve, event_ticker=e) for e in sorted(self.settings.events)]
        series = self.series
        if series is not None and len(series) <= PER_SERIES_QUERIES:
            return [dict(mve, series_ticker=s) for s in sorted(series)]
        return [mve]


def is_mve(market: dict) -> bool:
    """A multivariate (parlay) market: it names its MVE collection."""
    return bool(market.get("mve_collection_ticker"))


def _pattern(text: str) -> re.Pattern:
    return _PATTERNS.get(text) or _PATTERNS.setdefault(
        text, re.compile(fnmatch.translate(text.upper())))


_PATTERNS: dict[str, re.Pattern] = {}


def capacity(gather: GatherSettings) -> int:
    """Order books the configured connections can carry."""
    return gather.connections * gather.subscriptions_per_connection * \
        gather.markets_per_subscription


def check_limits(count: int, gather: GatherSettings) -> None:
    """Raises SelectionError when `count` books exceed `max_books` or the capacity."""
    cap = gather.selection.max_books
    if cap is not None and count > cap:
        raise SelectionError(
            f"the selection has {count} order books, more than gather.selection.max_books "
            f"({cap}): narrow it (series, categories, events, tickers) or raise max_books")
    room = capacity(gather)
    if count > room:
        raise SelectionError(
            f"the selection has {count} order books, more than {gather.connections} "
            f"connection(s) x {gather.subscriptions_per_connection} subscriptions x "
            f"{gather.markets_per_subscription} markets ({room}) carry: narrow it or raise "
            "gather.connections")


def book_round(count: int, rest_rate: float) -> dict:
    """REST cost of one round of order books over `count` markets through the batch endpoint."""
    calls = math.ceil(count / BATCH_BOOKS)
    return {"calls": calls, "seconds": round(calls / rest_rate, 1)}


def selected_books(registry) -> list[str]:
    """The selected order books of a running gatherer (its registry), sorted: what its book
    subscriptions and REST book rounds cover."""
    return registry.subscribable()


STORED_SQL = """
select m.market_ticker, m.event_ticker, m.series_ticker, m.status,
    coalesce(m.raw ->> 'mve_collection_ticker', '') <> '' as mve, s.category
from kstore.markets as m
left join kstore.series as s on m.series_ticker = s.series_ticker
where m.status = any(%(statuses)s::text[])
    and (%(include_mve)s or coalesce(m.raw ->> 'mve_collection_ticker', '') = '')
    and (cardinality(%(series)s::text[]) = 0 or m.series_ticker = any(%(series)s::text[]))
    and (cardinality(%(categories)s::text[]) = 0 or s.category = any(%(categories)s::text[]))
    and (cardinality(%(events)s::text[]) = 0 or m.event_ticker = any(%(events)s::text[]))
order by m.market_ticker
"""


def stored_params(settings: SelectionSettings, statuses: Iterable[str]) -> dict:
    return {"statuses": sorted(statuses), "include_mve": settings.include_mve,
            "series": settings.series, "categories": settings.categories,
            "events": settings.events}


def stored_selection(conn, settings: SelectionSettings) -> list[tuple]:
    """Rows (ticker, event, series, status, mve, category) of the selected markets a database
    holds (a gatherer's rel or production), sorted by ticker; `conn` is a psycopg
    connection. Ticker patterns are applied here, the rest in SQL."""
    selection = Selection(settings)
    rows = conn.execute(STORED_SQL, stored_params(settings, selection.statuses)).fetchall()
    return [r for r in rows if not settings.tickers
            or any(_pattern(p).match(r[0]) for p in settings.tickers)]
