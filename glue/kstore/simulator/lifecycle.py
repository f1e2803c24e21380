"""Market and event lifecycle steps (`market_lifecycle_v2` channel, KALSHI-API.md §3.8).

Each step changes the universe first (status, times, new markets) and then emits what the
exchange would push, so REST and WS agree from the moment the message is queued. Guards keep
the number of trading markets between half and twice `--markets`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .rest_objects import market_object
from .units import MICRO, dollars, rfc3339
from .universe import DAY_MS, Event, Market, new_event, new_market

if TYPE_CHECKING:
    from .generator import Generator

CHANNEL = "market_lifecycle_v2"


def _emit_market(gen: Generator, market: Market, msg: dict) -> None:
    """Emit one market_lifecycle_v2 message; `extra` carries the resulting REST state for truth."""
    extra = {"status": market.status, "updated_time": rfc3339(market.updated_ms, with_ms=True)}
    gen.emit(CHANNEL, "market_lifecycle_v2", market.ticker, {"market_ticker": market.ticker, **msg}, extra)


def created(gen: Generator, ts: int) -> None:
    """A new market (in a new event 30% of the time): event_lifecycle?, created, activated."""
    universe, rng = gen.universe, gen.rng
    series = rng.choice(sorted(universe.series))
    events = sorted(e for e, ev in universe.events.items() if ev.series_ticker == series)
    if not events or rng.random() < 0.3:
        event = new_event(universe, series, ts)
        gen.emit(CHANNEL, "event_lifecycle", event.event_ticker, _event_msg(event))
    else:
        event = universe.events[rng.choice(events)]
    market = new_market(universe, rng, event, ts)
    _emit_market(gen, market, _created_msg(market))
    _emit_market(gen, market, {"event_type": "activated"})


def _event_msg(event: Event) -> dict:
    return {
        "event_ticker": event.event_ticker,
        "title": event.title,
        "subtitle": event.sub_title,
        "collateral_return_type": "",
        "series_ticker": event.series_ticker,
        "strike_date": event.strike_ms // 1000,
    }


def _created_msg(market: Market) -> dict:
    obj = market_object(market)
    metadata = {key: obj[key] for key in ("title", "yes_sub_title", "no_sub_title", "rules_primary",
                                          "rules_secondary", "can_close_early", "event_ticker",
                                          "strike_type", "floor_strike")}
    metadata["expected_expiration_ts"] = market.close_ms // 1000
    return {
        "event_type": "created",
        "open_ts": market.open_ms // 1000,
        "close_ts": market.close_ms // 1000,
        "price_level_structure": market.structure,
        "additional_metadata": metadata,
    }


def determined(gen: Generator, ts: int) -> None:
    market = gen.pick_market()
    market.result = "yes" if gen.rng.random() < 0.5 else "no"
    market.determination_ms = ts
    gen.universe.set_status(market, "determined", ts)
    _emit_market(gen, market, {"event_type": "determined", "result": market.result, "determination_ts": ts // 1000})


def settled(gen: Generator, ts: int) -> None:
    candidates = gen.universe.markets_with_status("determined")
    market = candidates[gen.rng.randrange(len(candidates))]
    market.settlement_micro = MICRO if market.result == "yes" else 0
    market.settled_ms = ts
    gen.universe.set_status(market, "finalized", ts)
    value = dollars(market.settlement_micro, market.decimals)
    _emit_market(gen, market, {"event_type": "settled", "settlement_value": value, "settled_ts": ts // 1000})


def paused(gen: Generator, ts: int) -> None:
    market = gen.pick_market()
    gen.universe.set_status(market, "inactive", ts)
    _emit_market(gen, market, {"event_type": "deactivated", "is_deactivated": True})


def resumed(gen: Generator, ts: int) -> None:
    candidates = gen.universe.markets_with_status("inactive")
    market = candidates[gen.rng.randrange(len(candidates))]
    gen.universe.set_status(market, "active", ts)
    _emit_market(gen, market, {"event_type": "deactivated", "is_deactivated": False})


def close_date_updated(gen: Generator, ts: int) -> None:
    market = gen.pick_market()
    market.close_ms += DAY_MS
    market.updated_ms = ts
    _emit_market(gen, market, {"event_type": "close_date_updated", "close_ts": market.close_ms // 1000})


def _room_to_grow(gen: Generator) -> bool:
    return len(gen.universe.active) < 2 * gen.target_markets


def _room_to_shrink(gen: Generator) -> bool:
    return len(gen.universe.active) > max(1, gen.target_markets // 2)


# (weight, guard, step)
_LIFECYCLE: tuple[tuple[float, Callable[[Generator], bool], Callable[[Generator, int], None]], ...] = (
    (0.30, _room_to_grow, created),
    (0.20, _room_to_shrink, determined),
    (0.20, lambda gen: bool(gen.universe.markets_with_status("determined")), settled),
    (0.08, _room_to_shrink, paused),
    (0.07, lambda gen: bool(gen.universe.markets_with_status("inactive")), resumed),
    (0.15, lambda gen: bool(gen.universe.active), close_date_updated),
)


def lifecycle_step(gen: Generator, ts: int) -> None:
    """Pick one allowed lifecycle change by weight; with nothing allowed, list a new market."""
    allowed = [(weight, step) for weight, guard, step in _LIFECYCLE if guard(gen)]
    if not allowed:
        return created(gen, ts)
    point = gen.rng.random() * sum(weight for weight, _ in allowed)
    for weight, step in allowed:
        point -= weight
        if point < 0:
            return step(gen, ts)
    return allowed[-1][1](gen, ts)
