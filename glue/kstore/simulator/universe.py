"""The market universe: series -> events -> markets, each market with its order book.

Everything here is drawn from the simulator's single seeded RNG, so the same seed builds the
same universe (tickers, ids, grids, books) for the same `base_ms`, whose time tags the event
tickers. Times are relative to the injectable `base_ms`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from .book import OrderBook
from .units import MICRO, uuid4_from

LEVELS = 8  # resting levels per side at start; deltas touch only these prices
DAY_MS = 86_400_000

# (ticker, title, category, frequency)
SERIES_TABLE = (
    ("KXSIMCPI", "Simulated CPI print", "Economics", "monthly"),
    ("KXSIMTEMP", "Simulated high temperature", "Climate and Weather", "daily"),
    ("KXSIMIDX", "Simulated index close", "Financials", "daily"),
)

# price_level_structure -> (wire decimals, ranges [(start, end, step)] in micro-dollars)
GRIDS = {
    "linear_cent": (4, ((0, MICRO, 10_000),)),
    "deci_cent": (4, ((0, MICRO, 1_000),)),
    "tapered_deci_cent": (4, ((0, 100_000, 1_000), (100_000, 900_000, 10_000), (900_000, MICRO, 1_000))),
    "banded_centi_cent": (6, ((0, 100_000, 100), (100_000, 900_000, 1_000), (900_000, MICRO, 100))),
}

# Where a market's fair YES price sits: (structure, low, high, step) in micro-dollars. The
# window keeps all LEVELS levels of both sides inside one band of the grid.
FAIR_WINDOWS = (
    ("linear_cent", 150_000, 850_000, 10_000),
    ("deci_cent", 50_000, 950_000, 1_000),
    ("tapered_deci_cent", 30_000, 80_000, 1_000),
    ("tapered_deci_cent", 250_000, 750_000, 10_000),
    ("banded_centi_cent", 20_000, 90_000, 100),
    ("banded_centi_cent", 200_000, 800_000, 1_000),
    ("linear_cent", 150_000, 850_000, 10_000),
)

# REST `status` filter vocabulary -> market statuses (response vocabulary) it selects.
STATUS_FILTER = {
    "unopened": {"initialized"},
    "open": {"active"},
    "paused": {"inactive"},
    "closed": {"closed", "determined", "disputed", "amended"},
    "settled": {"finalized"},
}


@dataclass
class Series:
    ticker: str
    title: str
    category: str
    frequency: str


@dataclass
class Event:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    strike_ms: int
    markets: list[str] = field(default_factory=list)


@dataclass
class Market:
    ticker: str
    market_id: str
    event_ticker: str
    series_ticker: str
    position: int  # creation order: stable REST pagination
    structure: str
    decimals: int
    step: int
    fair: int
    fractional: bool
    strike: int
    created_ms: int
    updated_ms: int
    open_ms: int
    close_ms: int
    status: str = "active"
    quiet: bool = False  # a catalogue market: listed, rarely traded (Universe.quiet)
    mve_collection: str | None = None  # a multivariate (parlay) market's collection
    result: str = ""
    determination_ms: int | None = None
    settled_ms: int | None = None
    settlement_micro: int | None = None
    last_price: int = 0
    last_size: int = 0
    volume: int = 0
    open_interest: int = 0
    dollar_volume_acc: int = 0  # sum(count_centi * price_micro)
    book: OrderBook = field(default_factory=OrderBook)

    def level_price(self, side: str, level: int) -> int:
        """Price (NO-leg scale for NO) of level 1..LEVELS below the best possible bid."""
        top = self.fair if side == "yes" else MICRO - self.fair
        return top - level * self.step

    def random_size(self, rng: random.Random, cap: int = 200) -> int:
        """A positive size in centi-contracts; fractional markets use any hundredth."""
        if self.fractional:
            return 1 + int(rng.random() * cap * 100)
        return (1 + int(rng.random() * cap)) * 100


class Universe:
    """Reference data plus books; `active` lists the markets that trade."""

    def __init__(self) -> None:
        self.series: dict[str, Series] = {}
        self.events: dict[str, Event] = {}
        self.markets: dict[str, Market] = {}
        self.order: list[Market] = []
        self.active: list[Market] = []
        self.quiet: list[Market] = []  # active catalogue markets: a small share of the events
        self.by_series: dict[str, list[Market]] = {}  # in creation (position) order
        self.run_tag = ""  # in every event ticker: a rerun lists new markets, never old ones

    def add_market(self, market: Market) -> None:
        self.markets[market.ticker] = market
        self.order.append(market)
        self.events[market.event_ticker].markets.append(market.ticker)
        self.by_series.setdefault(market.series_ticker, []).append(market)
        if market.status == "active":
            (self.quiet if market.quiet else self.active).append(market)

    def set_status(self, market: Market, status: str, ts_ms: int) -> None:
        """Change status; a market trades (is in `active`, or `quiet` for a catalogue market)
        exactly while status is active."""
        pool = self.quiet if market.quiet else self.active
        if market.status == "active" and status != "active":
            pool.remove(market)
        elif market.status != "active" and status == "active":
            pool.append(market)
        market.status = status
        market.updated_ms = ts_ms

    def markets_with_status(self, status: str) -> list[Market]:
        return [m for m in self.order if m.status == status]


def build_universe(rng: random.Random, n_markets: int, base_ms: int) -> Universe:
    """3 series, about one event per 8 markets (at least one per series), n_markets markets."""
    universe = Universe()
    universe.run_tag = run_tag(base_ms)
    for ticker, title, category, frequency in SERIES_TABLE:
        universe.series[ticker] = Series(ticker, title, category, frequency)
    n_events = max(len(SERIES_TABLE), -(-n_markets // 8))
    events = [new_event(universe, SERIES_TABLE[i % len(SERIES_TABLE)][0], base_ms) for i in range(n_events)]
    for i in range(n_markets):  # the first markets cover every grid, then the seed decides
        window = FAIR_WINDOWS[i] if i < len(FAIR_WINDOWS) else None
        new_market(universe, rng, events[i % n_events], base_ms - DAY_MS + i * 1000, window)
    return universe


def run_tag(base_ms: int) -> str:
    """The run's start as Kalshi writes dates in tickers, to the second: 26DEC06054712."""
    return time.strftime("%y%b%d%H%M%S", time.gmtime(base_ms // 1000)).upper()


def new_event(universe: Universe, series_ticker: str, base_ms: int) -> Event:
    """Register the next event of a series (tickers numbered per series and tagged with the
    run: KXSIMCPI-26DEC06054712-E01, ...)."""
    number = 1 + sum(1 for e in universe.events.values() if e.series_ticker == series_ticker)
    series = universe.series[series_ticker]
    event = Event(
        event_ticker="-".join(filter(None, (series_ticker, universe.run_tag, f"E{number:02d}"))),
        series_ticker=series_ticker,
        title=f"{series.title} #{number}",
        sub_title=f"Round {number}",
        strike_ms=base_ms + number * DAY_MS,
    )
    universe.events[event.event_ticker] = event
    return event


def new_market(universe: Universe, rng: random.Random, event: Event, created_ms: int,
               window: tuple[str, int, int, int] | None = None) -> Market:
    """Create, seed the book of, and register one active market of `event`."""
    structure, low, high, step = window or rng.choice(FAIR_WINDOWS)
    strike = 100 + 5 * len(event.markets)
    market = Market(
        ticker=f"{event.event_ticker}-B{strike}",
        market_id=uuid4_from(rng),
        event_ticker=event.event_ticker,
        series_ticker=event.series_ticker,
        position=len(universe.order),
        structure=structure,
        decimals=GRIDS[structure][0],
        step=step,
        fair=low + rng.randrange((high - low) // step + 1) * step,
        fractional=rng.random() < 0.4,
        strike=strike,
        created_ms=created_ms,
        updated_ms=created_ms,
        open_ms=created_ms - created_ms % 3_600_000,
        close_ms=event.strike_ms,
    )
    seed_book(market, rng)
    universe.add_market(market)
    return market


def seed_book(market: Market, rng: random.Random) -> None:
    for side in ("yes", "no"):
        for level in range(1, LEVELS + 1):
            if rng.random() < 0.8:
                market.book.apply(side, market.level_price(side, level), market.random_size(rng, 500))
