"""A catalogue at the real exchange's size: many quiet markets, most of them multivariate.

`add_catalogue(universe, seed, n, mve, base_ms)` lists `n` more markets beside the active ones
of `--markets` (which keep almost all the event rate, as on the exchange a small share of
markets trades): `mve` of them multivariate (MVE) markets in `KXMVE…` collections, which name
their `mve_collection_ticker` and which `GET /events` leaves out; the others in series of eight
categories, with statuses spread as on the exchange (STATUSES). Drawn from an RNG of its own, so
the active markets of a seed are the same with or without a catalogue, and so are its market
events while `quiet_share` is 0 (lifecycle steps may list new markets in catalogue series).
Books start empty (a quiet market's first orders fill them): memory stays small per market.
"""

from __future__ import annotations

import random

from .units import uuid4_from
from .universe import DAY_MS, FAIR_WINDOWS, GRIDS, Event, Market, Series, Universe

CATEGORIES = ("Politics", "Economics", "Sports", "Climate and Weather", "Financials",
              "Entertainment", "Science and Technology", "Companies")
MARKETS_PER_SERIES = 100
MARKETS_PER_EVENT = 8
MVE_PER_COLLECTION = 1000
# (weight, REST response status) of catalogue markets that are not MVE; MVE markets are active.
STATUSES = ((0.40, "active"), (0.10, "initialized"), (0.02, "inactive"), (0.08, "closed"),
            (0.05, "determined"), (0.35, "finalized"))


def add_catalogue(universe: Universe, seed: int, n: int, mve: int, base_ms: int) -> None:
    rng = random.Random(f"catalogue-{seed}")
    plain = n - mve
    for i in range(plain):
        if i % MARKETS_PER_SERIES == 0:
            series = _series(universe, f"KXCAT{i // MARKETS_PER_SERIES:05d}",
                             CATEGORIES[(i // MARKETS_PER_SERIES) % len(CATEGORIES)])
        if i % MARKETS_PER_EVENT == 0:
            event = _event(universe, series, i // MARKETS_PER_EVENT, base_ms)
        _market(universe, rng, event, base_ms, _status(rng), None)
    for i in range(mve):
        if i % MVE_PER_COLLECTION == 0:
            collection = f"KXMVECOLL{i // MVE_PER_COLLECTION:04d}"
            series = _series(universe, f"KXMVE{i // MVE_PER_COLLECTION:04d}", "Sports")
        if i % MARKETS_PER_EVENT == 0:
            event = _event(universe, series, i // MARKETS_PER_EVENT, base_ms)
        _market(universe, rng, event, base_ms, "active", collection)


def _series(universe: Universe, ticker: str, category: str) -> Series:
    series = Series(ticker, f"Catalogue {ticker}", category, "daily")
    universe.series[ticker] = series
    return series


def _event(universe: Universe, series: Series, number: int, base_ms: int) -> Event:
    event = Event(f"{series.ticker}-C{number:06d}", series.ticker, f"{series.title} #{number}",
                  f"Round {number}", base_ms + DAY_MS * (1 + number % 30))
    universe.events[event.event_ticker] = event
    return event


def _status(rng: random.Random) -> str:
    point = rng.random()
    for weight, status in STATUSES:
        point -= weight
        if point < 0:
            return status
    return STATUSES[-1][1]


def _market(universe: Universe, rng: random.Random, event: Event, base_ms: int, status: str,
            collection: str | None) -> Market:
    structure, low, high, step = FAIR_WINDOWS[len(universe.order) % len(FAIR_WINDOWS)]
    strike = 100 + 5 * len(event.markets)
    created = base_ms - 2 * DAY_MS + len(universe.order)
    market = Market(
        ticker=f"{event.event_ticker}-B{strike}", market_id=uuid4_from(rng),
        event_ticker=event.event_ticker, series_ticker=event.series_ticker,
        position=len(universe.order), structure=structure, decimals=GRIDS[structure][0],
        step=step, fair=low + rng.randrange((high - low) // step + 1) * step,
        fractional=False, strike=strike, created_ms=created, updated_ms=created,
        open_ms=created - created % 3_600_000, close_ms=event.strike_ms, status=status,
        quiet=True, mve_collection=collection)
    if status == "finalized":
        market.result, market.settlement_micro, market.settled_ms = "no", 0, created
    universe.add_market(market)
    return market
