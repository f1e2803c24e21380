"""The rules a Kalshi field must meet, one reader per kind of field (decision 0023).

A reader is `(msg, Kalshi field, optional) -> value`: it reads the field once, checks it against
exactly what the exchange sends and the range of the column that stores it, and returns the
column value, or raises `Invalid` with the reason. Absent and null are the same; an absent
optional field reads as None (levels: empty, flags: False). The rules:
- identifiers: Kalshi's character set only (upper case A-Z, digits, `-`, `.`); trade ids are
  lower-case hyphenated UUIDs;
- decimals: plain notation strings only (digits, one optional point; a sign only on a signed
  size), no more decimals than the column keeps (prices numeric(10,6), sizes numeric(18,2)),
  no exponent, NaN, Infinity or `+`; prices within 0..1 dollars;
- integers: JSON integers (never booleans or floats) within the column's range;
- times: Unix milliseconds within bigint; plausibility against the receive time is the table's
  rule (`Field.near_receipt`, kstore.gatherer.parse), not the reader's;
- legacy integer-cents fields (removed 2026-03-12) and deprecated-only times are quarantined;
- an empty order book must be one: a snapshot with neither side carries only snapshot fields.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from typing import Any, Callable

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
TICKER = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,127}")  # fullmatch: no trailing newline
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PRICE_TEXT = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,6})?")   # numeric(10,6)
SIZE_TEXT = re.compile(r"[0-9]{1,16}(?:\.[0-9]{1,2})?")   # numeric(18,2)
SIGNED_SIZE_TEXT = re.compile(r"-?[0-9]{1,16}(?:\.[0-9]{1,2})?")
PLACES = {PRICE_TEXT: 6, SIZE_TEXT: 2, SIGNED_SIZE_TEXT: 2}
ZERO, ONE = Decimal(0), Decimal(1)
INT32, INT64 = (-(1 << 31), (1 << 31) - 1), (-(1 << 63), (1 << 63) - 1)
UINT32, UINT64 = (0, (1 << 31) - 1), (0, (1 << 63) - 1)
MS_RANGE = (1, 253_402_300_799_999)  # 1970 .. 9999-12-31: within timestamptz and datetime
Reader = Callable[..., Any]


class Invalid(ValueError):
    """A frame that does not match the exchange's schema; the message is the reason."""


def object_of(value: Any, name: str) -> dict:
    if type(value) is not dict:
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
    if type(value) is not str or (pattern is not None and not pattern.fullmatch(value)):
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


def _decimal(value: Any, key: str, form: re.Pattern) -> Decimal:
    if type(value) is not str or not form.fullmatch(value):
        raise Invalid(f"{key} is not a plain decimal string (an exponent, a sign, more than "
                      f"{PLACES[form]} decimals or not finite): {value!r}")
    return Decimal(value)


def _number(msg: dict, key: str, optional: bool, form: re.Pattern) -> Decimal | None:
    raw = msg.get(key)
    if raw is None:
        if optional:
            return None
        raise Invalid(f"missing field {key}")
    return _decimal(raw, key, form)


def price(msg: dict, key: str, optional: bool = False) -> Decimal | None:
    value = _number(msg, key, optional, PRICE_TEXT)
    if value is not None and value > ONE:
        raise Invalid(f"{key} outside 0..1 dollars: {value}")
    return value


def size(msg: dict, key: str, optional: bool = False) -> Decimal | None:
    return _number(msg, key, optional, SIZE_TEXT)


def signed_size(msg: dict, key: str, optional: bool = False) -> Decimal | None:
    """A size change: non-zero, either sign."""
    value = _number(msg, key, optional, SIGNED_SIZE_TEXT)
    if value == 0:
        raise Invalid(f"{key} is zero")
    return value


def nonzero_size(msg: dict, key: str, optional: bool = False) -> Decimal | None:
    value = size(msg, key, optional)
    if value == 0:
        raise Invalid(f"{key} is zero")
    return value


def integer(msg: dict, key: str, optional: bool = True,
            bounds: tuple[int, int] = INT64) -> int | None:
    """A JSON integer within `bounds` (the storing column's range; default bigint)."""
    value = msg.get(key) if optional else _required(msg, key)
    if value is not None and (type(value) is not int or not bounds[0] <= value <= bounds[1]):
        raise Invalid(f"{key} is not an integer in {bounds[0]}..{bounds[1]}: {value!r}")
    return value


sid_number = partial(integer, bounds=UINT32)   # sid integer
seq_number = partial(integer, bounds=UINT64)   # seq bigint: a seq above it is never sequenced


def timestamp_ms(msg: dict, key: str = "ts_ms", optional: bool = False) -> datetime | None:
    value = msg.get(key)
    if value is None:
        if optional:
            return None
        raise Invalid(f"missing field {key}")
    if type(value) is not int or not MS_RANGE[0] <= value <= MS_RANGE[1]:
        raise Invalid(f"{key} is not a Unix millisecond time: {value!r}")
    return EPOCH + timedelta(milliseconds=value)


def uuid_text(msg: dict, key: str, optional: bool = False) -> uuid.UUID | None:
    value = msg.get(key)
    if value is None and optional:
        return None
    if type(value) is not str or not UUID_TEXT.fullmatch(value):
        raise Invalid(f"{key} is not a UUID in Kalshi's form: {value!r}")
    return uuid.UUID(value)


def flag(msg: dict, key: str, optional: bool = False) -> bool:
    """A boolean; an optional flag that is absent is False."""
    value = msg.get(key, False) if optional else _required(msg, key)
    if type(value) is not bool:
        raise Invalid(f"{key} is not a boolean: {value!r}")
    return value


def levels(msg: dict, key: str, optional: bool = True) -> tuple[list[Decimal], list[Decimal]]:
    """A side's `[price, size]` levels as parallel lists ascending by price (absent = empty)."""
    raw = msg.get(key)
    if raw is None:
        if not optional:
            raise Invalid(f"missing field {key}")
        raw = []
    if type(raw) is not list:
        raise Invalid(f"{key} is not a list of levels")
    pairs = []
    for level in raw:
        if type(level) is not list or len(level) != 2:
            raise Invalid(f"{key} level is not [price, size]: {level!r}")
        pairs.append((_decimal(level[0], key, PRICE_TEXT), _decimal(level[1], key, SIZE_TEXT)))
    pairs.sort()
    if pairs and pairs[-1][0] > ONE:
        raise Invalid(f"{key} has a price above 1 dollar")
    return [p for p, _ in pairs], [s for _, s in pairs]


def legacy(msg: dict, key: str, optional: bool = False):
    """A field Kalshi removed (integer cents and counts, 2026-03-12) or deprecated (seconds
    times) sent without its replacement: the frame is quarantined, never converted."""
    raise Invalid(f"legacy field {key} without its replacement: {msg.get(key)!r}")


SNAPSHOT_FIELDS = frozenset({"market_ticker", "market_id", "yes_dollars_fp", "no_dollars_fp",
                             "yes", "no"})  # KALSHI-API 3.5, and the legacy sides


def empty_book_proven(msg: dict, key: str = "", optional: bool = False) -> tuple:
    """A snapshot without either side's levels is an empty book (3.5: an empty side's key is
    omitted) only when its `msg` carries nothing but a snapshot's fields; another message's
    body sent as a snapshot (a trade's, a ticker's, a delta's) is refused. Yields no column."""
    if all(msg.get(side) is None for side in ("yes_dollars_fp", "no_dollars_fp", "yes", "no")):
        foreign = sorted(name for name in msg if name not in SNAPSHOT_FIELDS)
        if foreign:
            raise Invalid("not a snapshot: no side's levels, and fields of another message: "
                          f"{', '.join(foreign)[:200]}")
    return ()


def book_side_of(msg: dict, key: str, optional: bool = False) -> str | None:
    """The book side from the deprecated `taker_side`: yes takes bids, no takes asks (§3.7)."""
    value = one_of("yes", "no")(msg, key, optional)
    return None if value is None else ("bid" if value == "yes" else "ask")


SIDE, BOOK_SIDE = one_of("yes", "no"), one_of("bid", "ask")
