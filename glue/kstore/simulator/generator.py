"""Deterministic event generator: one seeded RNG, one global event index.

Contract: the content of event `i` (ids, prices, sizes, ts_ms) depends only on the seed, the
options that shape the universe (markets, rate) and the anchor; never on wall-clock jitter
or on who is connected. `ts_ms` comes from a simulated clock: anchor + i * 1000 / rate, taken
at the first event of each step, so the events of one step (a trade, its book delta and the
ticker it moves; or two identical orders) share one ts_ms. Trade ids also depend on the
anchor (the wall clock at the feed's start by default), so two runs of one seed never send the
same trade id at different times (a rerun on a used home adds trades, never collides).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import uuid

from .book import top_of_book
from .lifecycle import lifecycle_step
from .tape import TradeTape
from .units import MICRO, contracts, dollars, rfc3339
from .universe import LEVELS, Market, Universe

_DUMPS = json.JSONEncoder(separators=(",", ":")).encode


# How long a new market waits for its first order: the time a gatherer needs to subscribe.
LISTING_GRACE_MS = 2_000

class FeedEvent:
    """One message the exchange emits to every matching subscription."""

    __slots__ = ("index", "ts_ms", "channel", "type", "ticker", "msg", "extra", "yes_price", "_body", "_body_yes")

    def __init__(self, index: int, ts_ms: int, channel: str, type_: str, ticker: str, msg: dict, extra: dict | None):
        self.index, self.ts_ms, self.channel, self.type = index, ts_ms, channel, type_
        self.ticker, self.msg, self.extra = ticker, msg, extra
        self.yes_price: str | None = None  # orderbook_delta on side "no": price on the YES scale
        self._body: str | None = None
        self._body_yes: str | None = None

    def body(self, use_yes_price: bool = False) -> str:
        """The `msg` JSON, encoded once and shared by every connection."""
        if use_yes_price and self.yes_price is not None:
            if self._body_yes is None:
                self._body_yes = _DUMPS({**self.msg, "price_dollars": self.yes_price})
            return self._body_yes
        if self._body is None:
            self._body = _DUMPS(self.msg)
        return self._body


class Generator:
    def __init__(self, universe: Universe, rng: random.Random, rate: float, anchor_ms: int, n_markets: int,
                 lifecycle_rate: float = 0.5):
        self.universe, self.rng, self.rate, self.anchor_ms = universe, rng, rate, anchor_ms
        self.lifecycle_odds = min(0.5, lifecycle_rate / rate)  # per step: ~lifecycle_rate per simulated s
        self.target_markets = max(1, n_markets)
        self.quiet_share = 0.0  # of the events on catalogue markets (kstore.simulator.catalogue)
        self.index = 0
        self.tape = TradeTape()
        self._pending: list[FeedEvent] = []
        self._ts = 0
        self._time_cache: tuple[int, str] = (-1, "")
        self._salt: tuple[int | None, int] = (None, 0)  # (anchor_ms, the trade ids' mask)

    def trade_id(self) -> str:
        """A version-4 UUID from the RNG (one draw, as before), made unique to this anchor."""
        if self._salt[0] != self.anchor_ms:
            digest = hashlib.sha256(f"kstore-run-{self.anchor_ms}".encode()).digest()
            self._salt = (self.anchor_ms, int.from_bytes(digest[:16], "big"))
        return str(uuid.UUID(int=self.rng.getrandbits(128) ^ self._salt[1], version=4))

    def ts_for(self, index: int) -> int:
        return self.anchor_ms + int(index * 1000 / self.rate)

    def step(self) -> list[FeedEvent]:
        """Generate the next step: 1-4 events with consecutive indices."""
        self._pending = []
        self._ts = self.ts_for(self.index)
        if not self.universe.active or self.rng.random() < self.lifecycle_odds:
            lifecycle_step(self, self._ts)
        else:
            _STEP_FUNCS[bisect.bisect(_STEP_CUMULATIVE, self.rng.random() * _STEP_CUMULATIVE[-1])](self, self._ts)
        self.index += len(self._pending)
        return self._pending

    def emit(self, channel: str, type_: str, ticker: str, msg: dict, extra: dict | None = None) -> FeedEvent:
        event = FeedEvent(self.index + len(self._pending), self._ts, channel, type_, ticker, msg, extra)
        self._pending.append(event)
        return event

    def pick_market(self) -> Market:
        """A random trading market; one listed less than LISTING_GRACE_MS ago is passed over when
        possible, so subscribers reacting to its `created` message see all of its deltas."""
        active = self.universe.active
        if self.quiet_share and self.universe.quiet and self.rng.random() < self.quiet_share:
            active = self.universe.quiet  # a catalogue market: a small share of the events
        for _ in range(4):
            market = active[int(self.rng.random() * len(active))]
            if market.created_ms + LISTING_GRACE_MS <= self._ts:
                return market
        return min(active, key=lambda candidate: candidate.created_ms)

    def time_text(self, ts_ms: int) -> str:
        second = ts_ms // 1000
        if self._time_cache[0] != second:
            self._time_cache = (second, rfc3339(ts_ms))
        return self._time_cache[1]

    def emit_delta(self, market: Market, side: str, price: int, delta: int, ts: int) -> None:
        """Apply a delta to the book and emit it (NO side priced on the NO leg)."""
        market.book.apply(side, price, delta)
        price_text, delta_text, time_text = dollars(price, market.decimals), contracts(delta), self.time_text(ts)
        msg = {
            "market_ticker": market.ticker,
            "market_id": market.market_id,
            "price_dollars": price_text,
            "delta_fp": delta_text,
            "side": side,
            "ts": time_text,
            "ts_ms": ts,
        }
        event = self.emit("orderbook_delta", "orderbook_delta", market.ticker, msg)
        # The hottest message: rendered directly (every value is a plain ASCII token), same
        # bytes as json encoding of msg.
        event._body = (f'{{"market_ticker":"{market.ticker}","market_id":"{market.market_id}",'
                       f'"price_dollars":"{price_text}","delta_fp":"{delta_text}","side":"{side}",'
                       f'"ts":"{time_text}","ts_ms":{ts}}}')
        if side == "no":
            event.yes_price = dollars(MICRO - price, market.decimals)

    def emit_ticker(self, market: Market, ts: int) -> None:
        d = market.decimals
        yes_bid, yes_bid_size, yes_ask, yes_ask_size = top_of_book(market.book)
        msg = {
            "market_id": market.market_id,
            "market_ticker": market.ticker,
            "price_dollars": dollars(market.last_price, d),
            "yes_bid_dollars": dollars(yes_bid, d),
            "yes_ask_dollars": dollars(yes_ask, d),
            "volume_fp": contracts(market.volume),
            "open_interest_fp": contracts(market.open_interest),
            "dollar_volume": market.dollar_volume_acc // (100 * MICRO),
            "dollar_open_interest": market.open_interest * market.last_price // (100 * MICRO),
            "yes_bid_size_fp": contracts(yes_bid_size),
            "yes_ask_size_fp": contracts(yes_ask_size),
            "last_trade_size_fp": contracts(market.last_size),
            "ts": ts // 1000,
            "ts_ms": ts,
            "time": self.time_text(ts),
        }
        self.emit("ticker", "ticker", market.ticker, msg)


def delta_step(gen: Generator, ts: int) -> None:
    """An order added or (partly) cancelled at one of the market's levels."""
    rng, market = gen.rng, gen.pick_market()
    side = "yes" if rng.random() < 0.5 else "no"
    price = market.level_price(side, 1 + int(rng.random() * LEVELS))
    resting = market.book.size(side, price)
    size = market.random_size(rng)
    delta = size if resting == 0 or rng.random() < 0.55 else -min(size, resting)
    gen.emit_delta(market, side, price, delta, ts)


def twin_step(gen: Generator, ts: int) -> None:
    """Two equal orders in the same ms: two identical deltas back to back (two rows downstream)."""
    rng, market = gen.rng, gen.pick_market()
    side = "yes" if rng.random() < 0.5 else "no"
    price = market.level_price(side, 1 + int(rng.random() * LEVELS))
    size = market.random_size(rng, 50)
    gen.emit_delta(market, side, price, size, ts)
    gen.emit_delta(market, side, price, size, ts)


def ticker_step(gen: Generator, ts: int) -> None:
    gen.emit_ticker(gen.pick_market(), ts)


def trade_step(gen: Generator, ts: int) -> None:
    """A taker hits the best bid of the other side: trade, book delta, ticker (block: no delta)."""
    rng, market = gen.rng, gen.pick_market()
    taker = "yes" if rng.random() < 0.5 else "no"
    hit_side = "no" if taker == "yes" else "yes"
    block = rng.random() < 0.01
    best = market.book.best(hit_side)
    if best is None and not block:
        return delta_step(gen, ts)
    if block:
        hit_price, count = (market.fair if hit_side == "yes" else MICRO - market.fair), market.random_size(rng, 1000)
    else:
        hit_price, count = best[0], min(market.random_size(rng), best[1])
    yes_price = hit_price if hit_side == "yes" else MICRO - hit_price
    _emit_trade(gen, market, taker, yes_price, count, block, ts)
    if not block:
        gen.emit_delta(market, hit_side, hit_price, -count, ts)
    gen.emit_ticker(market, ts)


def _emit_trade(gen: Generator, market: Market, taker: str, yes_price: int, count: int, block: bool, ts: int) -> None:
    d = market.decimals
    msg = {
        "trade_id": gen.trade_id(),
        "market_ticker": market.ticker,
        "yes_price_dollars": dollars(yes_price, d),
        "no_price_dollars": dollars(MICRO - yes_price, d),
        "count_fp": contracts(count),
        "taker_side": taker,
        "taker_outcome_side": taker,
        "taker_book_side": "bid" if taker == "yes" else "ask",
        "is_block_trade": block,
        "ts": ts // 1000,
        "ts_ms": ts,
    }
    market.last_price, market.last_size = yes_price, count
    market.volume += count
    market.dollar_volume_acc += count * yes_price
    market.open_interest = max(0, market.open_interest + (count if gen.rng.random() < 0.6 else -count))
    gen.tape.append(ts, market.ticker, msg)
    gen.emit("trade", "trade", market.ticker, msg)


# (weight, step) of market-data steps: deltas dominate, as on the exchange. Lifecycle steps are
# drawn separately, at `lifecycle_rate` per simulated second whatever the event rate.
_STEPS = ((0.70, delta_step), (0.03, twin_step), (0.12, trade_step), (0.15, ticker_step))
_STEP_FUNCS = [step for _, step in _STEPS]
_STEP_CUMULATIVE = [sum(w for w, _ in _STEPS[: i + 1]) for i in range(len(_STEPS))]
