"""Frames to rows: validation of Kalshi WebSocket v2 messages (2026 fixed-point fields).

`parse(frame)` never raises: a frame that fails validation becomes a quarantine row with the
reason and the raw bytes; nothing else in its batch is affected. Prices become Decimal dollars
(at most 6 decimals, within 0..1), sizes Decimal contracts (at most 2 decimals), times aware
UTC datetimes from `ts_ms`. Floats never appear. Sequencing (sid/seq) is the caller's job; this
module only reads the envelope (`envelope()`).

A valid message's `body` is keyed by database column name. `COLUMNS` holds, per message type, the
only place where Kalshi fields are renamed to columns: a table of column ← field, reader.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, Callable, NamedTuple

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
TICKER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_FRAME_BYTES = 1 << 20
PRICE_PLACES, SIZE_PLACES = 6, 2
ZERO, ONE, SIZE_LIMIT = Decimal(0), Decimal(1), Decimal("1e16")
DATA_TYPES = ("orderbook_snapshot", "orderbook_delta", "trade", "ticker",
              "market_lifecycle_v2", "event_lifecycle")
CONTROL_TYPES = ("subscribed", "unsubscribed", "ok", "error")
Reader = Callable[..., Any]  # (msg, Kalshi field, optional) -> the column value(s)


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
            parsed.body = validate(COLUMNS[parsed.type], _dict(message.get("msg"), "msg"))
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


# --- readers: (msg, Kalshi field, optional) -> value, or Invalid with the reason ----------

def _dict(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"{name} is not an object")
    return value


def _required(msg: dict, key: str) -> Any:
    value = msg.get(key)
    if value is None:
        raise Invalid(f"missing field {key}")
    return value


def text(msg: dict, key: str, optional: bool = False, pattern: re.Pattern | None = None):
    value = msg.get(key)
    if value is None:
        if optional:
            return None
        raise Invalid(f"missing field {key}")
    if not isinstance(value, str) or (pattern and not pattern.match(value)):
        raise Invalid(f"{key} is not a valid string: {value!r}")
    return value


symbol = partial(text, pattern=TICKER)  # a market, event or series ticker


def one_of(*allowed: str) -> Reader:
    def read(msg: dict, key: str, optional: bool = False) -> str | None:
        value = text(msg, key, optional)
        if value is not None and value not in allowed:
            raise Invalid(f"{key} must be one of {allowed}: {value!r}")
        return value
    return read


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


def _number(msg: dict, key: str, optional: bool, places: int) -> Decimal | None:
    raw = msg.get(key)
    if raw is None:
        if optional:
            return None
        raise Invalid(f"missing field {key}")
    return _decimal(raw, key, places)


def price(msg: dict, key: str, optional: bool = False) -> Decimal | None:
    value = _number(msg, key, optional, PRICE_PLACES)
    if value is not None and not ZERO <= value <= ONE:
        raise Invalid(f"{key} outside 0..1 dollars: {value}")
    return value


def size(msg: dict, key: str, optional: bool = False, signed: bool = False) -> Decimal | None:
    value = _number(msg, key, optional, SIZE_PLACES)
    if value is not None and (
            (value == 0 if signed else value < 0) or abs(value) >= SIZE_LIMIT):
        raise Invalid(f"{key} is not a valid size: {value}")
    return value


def timestamp_ms(msg: dict, key: str = "ts_ms", optional: bool = False) -> datetime | None:
    value = msg.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 4_102_444_800_000:
        raise Invalid(f"{key} is not a Unix millisecond time: {value!r}")
    return EPOCH + timedelta(milliseconds=value)


def integer(msg: dict, key: str, optional: bool = True) -> int | None:
    value = msg.get(key) if optional else _required(msg, key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise Invalid(f"{key} is not an integer: {value!r}")
    return value


signed_size = partial(size, signed=True)  # a size change: non-zero, either sign


def nonzero_size(msg: dict, key: str, optional: bool = False) -> Decimal | None:
    value = size(msg, key, optional)
    if value == 0:
        raise Invalid(f"{key} is zero")
    return value


def uuid_text(msg: dict, key: str, optional: bool = False) -> uuid.UUID | None:
    value = text(msg, key, optional)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise Invalid(f"{key} is not a UUID: {value!r}") from exc


def flag(msg: dict, key: str, optional: bool = False) -> bool:
    """A boolean; an optional flag that is absent is False."""
    value = msg.get(key, False) if optional else _required(msg, key)
    if not isinstance(value, bool):
        raise Invalid(f"{key} is not a boolean: {value!r}")
    return value


def levels(msg: dict, key: str, optional: bool = True) -> tuple[list[Decimal], list[Decimal]]:
    """A side's `[price, size]` levels as parallel lists ascending by price (absent = empty)."""
    raw = msg.get(key, []) if optional else _required(msg, key)
    if not isinstance(raw, list):
        raise Invalid(f"{key} is not a list of levels")
    pairs = []
    for level in raw:
        if not (isinstance(level, list) and len(level) == 2):
            raise Invalid(f"{key} level is not [price, size]: {level!r}")
        pairs.append((_decimal(level[0], key, PRICE_PLACES), _decimal(level[1], key, SIZE_PLACES)))
    pairs.sort()
    if any(not ZERO <= p <= ONE or s < 0 for p, s in pairs):
        raise Invalid(f"{key} has a price outside 0..1 or a negative size")
    return [p for p, _ in pairs], [s for _, s in pairs]


# --- column tables: per message type, column ← Kalshi field, read and checked by a reader -----

class Field(NamedTuple):
    """One line of a column table: the column(s) ← the Kalshi field, read and checked by `read`
    (`optional`: the field may be absent or null). A reader that yields several columns (a
    side's levels) names them as a tuple, in the order it returns their values."""

    column: str | tuple[str, ...]
    field: str
    read: Reader
    optional: bool = False


SIDE, BOOK_SIDE = one_of("yes", "no"), one_of("bid", "ask")

# Each message type's fields, in the order they are checked (the first bad one is the reason).
COLUMNS: dict[str, tuple[Field, ...]] = {
    "orderbook_snapshot": (
        Field(("yes_prices", "yes_sizes"), "yes_dollars_fp", levels, True),
        Field(("no_prices", "no_sizes"), "no_dollars_fp", levels, True),
        Field("market_ticker", "market_ticker", symbol),
    ),
    "orderbook_delta": (
        Field("market_ticker", "market_ticker", symbol),
        Field("side", "side", SIDE),
        Field("price", "price_dollars", price),
        Field("delta", "delta_fp", signed_size),
        Field("ts", "ts_ms", timestamp_ms, True),  # absent: the stream keys it per gatherer
    ),
    "trade": (
        Field("trade_id", "trade_id", uuid_text),
        Field("count", "count_fp", nonzero_size),
        Field("is_block_trade", "is_block_trade", flag, True),
        Field("ts", "ts_ms", timestamp_ms),
        Field("market_ticker", "market_ticker", symbol),
        Field("yes_price", "yes_price_dollars", price),
        Field("no_price", "no_price_dollars", price),
        Field("taker_outcome_side", "taker_outcome_side", SIDE, True),
        Field("taker_book_side", "taker_book_side", BOOK_SIDE, True),
    ),
    "ticker": (
        Field("market_ticker", "market_ticker", symbol),
        Field("ts", "ts_ms", timestamp_ms),
        Field("price", "price_dollars", price, True),
        Field("yes_bid", "yes_bid_dollars", price, True),
        Field("yes_ask", "yes_ask_dollars", price, True),
        Field("yes_bid_size", "yes_bid_size_fp", size, True),
        Field("yes_ask_size", "yes_ask_size_fp", size, True),
        Field("last_trade_size", "last_trade_size_fp", size, True),
        Field("volume", "volume_fp", size, True),
        Field("open_interest", "open_interest_fp", size, True),
        Field("dollar_volume", "dollar_volume", integer, True),
        Field("dollar_open_interest", "dollar_open_interest", integer, True),
    ),
    "market_lifecycle_v2": (
        Field("market_ticker", "market_ticker", symbol),
        Field("event_type", "event_type", text),
    ),
    "event_lifecycle": (
        Field("event_ticker", "event_ticker", symbol),
        Field("series_ticker", "series_ticker", symbol, True),
    ),
}

# GET /markets/{ticker}/orderbook's `orderbook_fp` object (kstore.gatherer.snapshots).
REST_BOOK: tuple[Field, ...] = (
    Field(("yes_prices", "yes_sizes"), "yes_dollars", levels, True),
    Field(("no_prices", "no_sizes"), "no_dollars", levels, True),
)


def validate(fields: tuple[Field, ...], msg: dict) -> dict:
    """The message's values by column name; raises Invalid with the first bad field's reason."""
    body = {}
    for column, key, read, optional in fields:
        if type(column) is str:
            body[column] = read(msg, key, optional)
        else:
            body.update(zip(column, read(msg, key, optional)))
    return body
