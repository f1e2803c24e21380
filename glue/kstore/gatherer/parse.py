"""Frames to rows: validation of Kalshi WebSocket v2 messages (2026 fixed-point fields).

`parse(frame)` never raises: a frame that fails validation becomes a quarantine row with the
reason and the raw bytes; nothing else in its batch is affected. Prices become Decimal dollars
(at most 6 decimals, within 0..1), sizes Decimal contracts (at most 2 decimals), times aware
UTC datetimes from `ts_ms`. Floats never appear. Sequencing (sid/seq) is the caller's job; this
module only reads the envelope (`envelope()`).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
TICKER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_FRAME_BYTES = 1 << 20
PRICE_PLACES, SIZE_PLACES = 6, 2
DATA_TYPES = ("orderbook_snapshot", "orderbook_delta", "trade", "ticker",
              "market_lifecycle_v2", "event_lifecycle")
CONTROL_TYPES = ("subscribed", "unsubscribed", "ok", "error")


class Invalid(ValueError):
    """A frame that does not match the exchange's schema; the message is the reason."""


@dataclass(frozen=True)
class Frame:
    raw: bytes
    received_at: datetime
    connection_id: str
    use_yes_price: bool = False


@dataclass
class Parsed:
    """What one frame yields: message type, envelope, validated content or a quarantine reason."""

    type: str | None = None
    sid: int | None = None
    seq: int | None = None
    body: dict = field(default_factory=dict)
    message: dict | None = None
    reason: str | None = None


def parse(frame: Frame) -> Parsed:
    """Decode and validate one frame; `reason` is set when it belongs in quarantine."""
    if len(frame.raw) > MAX_FRAME_BYTES:
        return Parsed(reason=f"oversized frame: {len(frame.raw)} bytes > {MAX_FRAME_BYTES}")
    try:
        message = json.loads(frame.raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Parsed(reason=f"not JSON: {exc}")
    try:
        parsed = envelope(message)
        if parsed.type in DATA_TYPES:
            parsed.body = VALIDATORS[parsed.type](_dict(message.get("msg"), "msg"))
        elif parsed.type not in CONTROL_TYPES:
            raise Invalid(f"unknown message type {parsed.type!r}")
    except Invalid as exc:
        return Parsed(type=_type_or_none(message), reason=str(exc))
    parsed.message = message
    return parsed


def envelope(message: Any) -> Parsed:
    if not isinstance(message, dict):
        raise Invalid(f"frame is a JSON {type(message).__name__}, not an object")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise Invalid("frame has no string 'type'")
    sid, seq = message.get("sid"), message.get("seq")
    for name, value in (("sid", sid), ("seq", seq)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise Invalid(f"envelope {name} is not an integer: {value!r}")
    return Parsed(type=kind, sid=sid, seq=seq)


def _type_or_none(message: Any) -> str | None:
    return message.get("type") if isinstance(message, dict) else None


# --- field readers -------------------------------------------------------------------------

def _dict(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"{name} is not an object")
    return value


def _required(msg: dict, key: str) -> Any:
    if key not in msg or msg[key] is None:
        raise Invalid(f"missing field {key}")
    return msg[key]


def _text(msg: dict, key: str, pattern: re.Pattern | None = None, optional: bool = False):
    value = msg.get(key) if optional else _required(msg, key)
    if value is None:
        return None
    if not isinstance(value, str) or (pattern and not pattern.match(value)):
        raise Invalid(f"{key} is not a valid string: {value!r}")
    return value


def _choice(msg: dict, key: str, allowed: tuple[str, ...], optional: bool = False):
    value = _text(msg, key, optional=optional)
    if value is not None and value not in allowed:
        raise Invalid(f"{key} must be one of {allowed}: {value!r}")
    return value


def _decimal(value: Any, key: str, places: int) -> Decimal:
    if not isinstance(value, str):
        raise Invalid(f"{key} must be a decimal string, got {type(value).__name__} {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise Invalid(f"{key} is not a decimal: {value!r}") from exc
    if not number.is_finite() or number.as_tuple().exponent < -places:
        raise Invalid(f"{key} has more than {places} decimals or is not finite: {value!r}")
    return number


def price(msg: dict, key: str, optional: bool = False) -> Decimal | None:
    if optional and msg.get(key) is None:
        return None
    value = _decimal(_required(msg, key), key, PRICE_PLACES)
    if not Decimal(0) <= value <= Decimal(1):
        raise Invalid(f"{key} outside 0..1 dollars: {value}")
    return value


def size(msg: dict, key: str, optional: bool = False, signed: bool = False) -> Decimal | None:
    if optional and msg.get(key) is None:
        return None
    value = _decimal(_required(msg, key), key, SIZE_PLACES)
    if (value == 0 if signed else value < 0) or abs(value) >= Decimal("1e16"):
        raise Invalid(f"{key} is not a valid size: {value}")
    return value


def timestamp_ms(msg: dict, key: str = "ts_ms", optional: bool = False) -> datetime | None:
    value = msg.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 4_102_444_800_000:
        raise Invalid(f"{key} is not a Unix millisecond time: {value!r}")
    return EPOCH + timedelta(milliseconds=value)


def _integer(msg: dict, key: str) -> int | None:
    value = msg.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise Invalid(f"{key} is not an integer: {value!r}")
    return value


# --- validators per message type: each returns the normalized body -----------------------

def levels(msg: dict, key: str) -> tuple[list[Decimal], list[Decimal]]:
    """A side's `[price, size]` levels as parallel lists ascending by price (absent = empty)."""
    raw = msg.get(key, [])
    if not isinstance(raw, list):
        raise Invalid(f"{key} is not a list of levels")
    pairs = []
    for level in raw:
        if not (isinstance(level, list) and len(level) == 2):
            raise Invalid(f"{key} level is not [price, size]: {level!r}")
        pairs.append((_decimal(level[0], key, PRICE_PLACES), _decimal(level[1], key, SIZE_PLACES)))
    pairs.sort()
    if any(not Decimal(0) <= p <= 1 or s < 0 for p, s in pairs):
        raise Invalid(f"{key} has a price outside 0..1 or a negative size")
    return [p for p, _ in pairs], [s for _, s in pairs]


def snapshot(msg: dict) -> dict:
    yes_prices, yes_sizes = levels(msg, "yes_dollars_fp")
    no_prices, no_sizes = levels(msg, "no_dollars_fp")
    return {"market_ticker": _text(msg, "market_ticker", TICKER), "yes_prices": yes_prices,
            "yes_sizes": yes_sizes, "no_prices": no_prices, "no_sizes": no_sizes}


def delta(msg: dict) -> dict:
    return {"market_ticker": _text(msg, "market_ticker", TICKER),
            "side": _choice(msg, "side", ("yes", "no")),
            "price": price(msg, "price_dollars"),
            "delta": size(msg, "delta_fp", signed=True),
            "ts": timestamp_ms(msg, optional=True)}


def trade(msg: dict) -> dict:
    trade_id = _text(msg, "trade_id")
    try:
        parsed_id = uuid.UUID(trade_id)
    except ValueError as exc:
        raise Invalid(f"trade_id is not a UUID: {trade_id!r}") from exc
    count = size(msg, "count_fp")
    if count == 0:
        raise Invalid("count_fp is zero")
    block = msg.get("is_block_trade", False)
    if not isinstance(block, bool):
        raise Invalid(f"is_block_trade is not a boolean: {block!r}")
    return {"trade_id": parsed_id, "ts": timestamp_ms(msg),
            "market_ticker": _text(msg, "market_ticker", TICKER),
            "yes_price": price(msg, "yes_price_dollars"), "no_price": price(msg, "no_price_dollars"),
            "count": count, "is_block_trade": block,
            "taker_outcome_side": _choice(msg, "taker_outcome_side", ("yes", "no"), optional=True),
            "taker_book_side": _choice(msg, "taker_book_side", ("bid", "ask"), optional=True)}


TICKER_PRICES = ("price_dollars", "yes_bid_dollars", "yes_ask_dollars")
TICKER_SIZES = ("yes_bid_size_fp", "yes_ask_size_fp", "last_trade_size_fp", "volume_fp",
                "open_interest_fp")


def ticker(msg: dict) -> dict:
    body = {"market_ticker": _text(msg, "market_ticker", TICKER), "ts": timestamp_ms(msg)}
    for key in TICKER_PRICES:
        body[key] = price(msg, key, optional=True)
    for key in TICKER_SIZES:
        body[key] = size(msg, key, optional=True)
    for key in ("dollar_volume", "dollar_open_interest"):
        body[key] = _integer(msg, key)
    return body


def market_lifecycle(msg: dict) -> dict:
    return {"market_ticker": _text(msg, "market_ticker", TICKER),
            "event_type": _text(msg, "event_type")}


def event_lifecycle(msg: dict) -> dict:
    return {"event_ticker": _text(msg, "event_ticker", TICKER),
            "series_ticker": _text(msg, "series_ticker", TICKER, optional=True)}


VALIDATORS: dict[str, Callable[[dict], dict]] = {
    "orderbook_snapshot": snapshot,
    "orderbook_delta": delta,
    "trade": trade,
    "ticker": ticker,
    "market_lifecycle_v2": market_lifecycle,
    "event_lifecycle": event_lifecycle,
}
