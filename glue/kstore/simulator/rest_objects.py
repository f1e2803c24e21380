"""REST representations of series, events and markets (KALSHI-API.md §5.2-5.4, 2026 fields).

Only `*_dollars` / `*_fp` strings; the legacy integer fields are absent, as on the exchange.
"""

from __future__ import annotations

from .book import top_of_book
from .units import MICRO, contracts, dollars, rfc3339
from .universe import GRIDS, Event, Market, Series


def series_object(series: Series) -> dict:
    return {
        "ticker": series.ticker,
        "frequency": series.frequency,
        "title": series.title,
        "category": series.category,
        "tags": ["simulated"],
        "settlement_sources": [{"name": "kstore simulator", "url": "http://127.0.0.1/"}],
        "contract_url": "",
        "contract_terms_url": "",
        "product_metadata": {},
        "fee_type": "quadratic",
        "fee_multiplier": 1,
        "additional_prohibitions": [],
        "volume_fp": "0.00",
    }


def event_object(event: Event, category: str) -> dict:
    return {
        "event_ticker": event.event_ticker,
        "series_ticker": event.series_ticker,
        "title": event.title,
        "sub_title": event.sub_title,
        "collateral_return_type": "",
        "mutually_exclusive": False,
        "category": category,
        "available_on_brokers": False,
        "product_metadata": {},
        "strike_date": rfc3339(event.strike_ms),
        "strike_period": "",
    }


def price_ranges(market: Market) -> list[dict]:
    decimals, ranges = GRIDS[market.structure]
    return [{"start": dollars(a, decimals), "end": dollars(b, decimals), "step": dollars(s, decimals)} for a, b, s in ranges]


def market_object(market: Market) -> dict:
    """Full market object; `updated_time` moves only on lifecycle changes, not on trades."""
    obj = {
        "ticker": market.ticker,
        "event_ticker": market.event_ticker,
        "market_type": "binary",
        "title": f"Above {market.strike}?",
        "subtitle": "",
        "yes_sub_title": f"Above {market.strike}",
        "no_sub_title": f"{market.strike} or below",
        "rules_primary": f"Resolves YES if the value is above {market.strike}.",
        "rules_secondary": "",
        **_times(market),
        "status": market.status,
        **_quotes(market),
        **_settlement(market),
        "strike_type": "greater",
        "floor_strike": market.strike,
        "cap_strike": None,
        "functional_strike": None,
        "custom_strike": None,
        "price_level_structure": market.structure,
        "price_ranges": price_ranges(market),
        "fractional_trading_enabled": market.fractional,
    }
    if market.mve_collection is not None:
        obj |= mve_fields(market)
    return obj


def mve_fields(market: Market) -> dict:
    """What a multivariate market adds: its collection and the legs it combines."""
    legs = [{"event_ticker": market.event_ticker, "market_ticker": market.ticker, "side": "yes"}]
    return {"mve_collection_ticker": market.mve_collection, "mve_selected_legs": legs}


def _times(market: Market) -> dict:
    close = rfc3339(market.close_ms)
    return {
        "created_time": rfc3339(market.created_ms, with_ms=True),
        "updated_time": rfc3339(market.updated_ms, with_ms=True),
        "open_time": rfc3339(market.open_ms),
        "close_time": close,
        "expected_expiration_time": close,
        "latest_expiration_time": close,
        "expiration_time": close,
        "settlement_timer_seconds": 300,
        "can_close_early": False,
        "early_close_condition": "",
        "occurrence_datetime": close,
    }


def _quotes(market: Market) -> dict:
    d = market.decimals
    yes_bid, yes_bid_size, yes_ask, yes_ask_size = top_of_book(market.book)
    last = dollars(market.last_price, d)
    return {
        "yes_bid_dollars": dollars(yes_bid, d),
        "yes_ask_dollars": dollars(yes_ask, d),
        "no_bid_dollars": dollars(MICRO - yes_ask, d),
        "no_ask_dollars": dollars(MICRO - yes_bid, d),
        "yes_bid_size_fp": contracts(yes_bid_size),
        "yes_ask_size_fp": contracts(yes_ask_size),
        "last_price_dollars": last,
        "previous_yes_bid_dollars": dollars(yes_bid, d),
        "previous_yes_ask_dollars": dollars(yes_ask, d),
        "previous_price_dollars": last,
        "volume_fp": contracts(market.volume),
        "volume_24h_fp": contracts(market.volume),
        "open_interest_fp": contracts(market.open_interest),
        "notional_value_dollars": dollars(MICRO, d),
        "liquidity_dollars": dollars(0, d),
    }


def _settlement(market: Market) -> dict:
    settled = market.settlement_micro is not None
    return {
        "result": market.result,
        "settlement_value_dollars": dollars(market.settlement_micro, market.decimals) if settled else None,
        "settlement_ts": rfc3339(market.settled_ms) if market.settled_ms else None,
        "expiration_value": "",
    }


def orderbook_object(market: Market, depth: int = 0) -> dict:
    """`{"orderbook_fp": {"yes_dollars": [...], "no_dollars": [...]}}`, ascending, NO-leg prices."""
    sides = {}
    for side in ("yes", "no"):
        levels = market.book.wire_levels(side, market.decimals)
        sides[f"{side}_dollars"] = levels[-depth:] if depth else levels
    return {"orderbook_fp": sides}
