"""Frames to rows: validation of Kalshi WebSocket v2 messages (2026 fixed-point fields).

`parse(frame)` never raises: a frame that fails validation gets a quarantine `reason` (and the
stream keeps its raw bytes); nothing else in its batch is affected. Bytes are decoded by
kstore.gatherer.decode (pathological frames), fields checked by the readers of
kstore.gatherer.rules (decision 0023). Prices become Decimal dollars, sizes Decimal contracts,
times aware UTC datetimes from `ts_ms`; floats never appear. Sequencing (sid/seq) is the
caller's job; this module only reads and checks the envelope.

A valid message's `body` is keyed by database column name. `COLUMNS` holds, per message type, the
only place where Kalshi fields are renamed to columns: a table of column ← field, reader, and the
rules that are data (optional, legacy fallback, plausible exchange time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from kstore.gatherer.decode import MAX_FRAME_BYTES, decode  # noqa: F401 (re-exported)
from kstore.gatherer.rules import (  # noqa: F401 (readers re-exported for the tables' users)
    BOOK_SIDE, SIDE, Invalid, Reader, book_side_of, empty_book_proven, flag, integer, legacy,
    levels, nonzero_size, object_of, price, seq_number, sid_number, signed_size, size, symbol, text,
    timestamp_ms, uuid_text)
from kstore.gatherer import lifecycle
from kstore.gatherer.typed import parse_fast

DATA_TYPES = ("orderbook_snapshot", "orderbook_delta", "trade", "ticker",
              "market_lifecycle_v2", "event_lifecycle")
CONTROL_TYPES = ("subscribed", "unsubscribed", "ok", "error")
TIME_TOLERANCE = timedelta(days=1)  # default of settings.gather.time_tolerance


class Frame(NamedTuple):
    """One frame as received (immutable; a tuple: cheap to make once per frame)."""

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
    message: dict | None = None  # None for a frame of the fast path (kstore.gatherer.typed)
    reason: str | None = None
    sending_ts: datetime | None = None
    fingerprint: int | None = None  # a ticker's, when the fast path computed it


def parse(frame: Frame, tolerance: timedelta = TIME_TOLERANCE) -> Parsed:
    """Decode and validate one frame; `reason` is set when it belongs in quarantine. Exchange
    times farther than `tolerance` from the receive time are implausible (quarantined)."""
    window = (frame.received_at - tolerance, frame.received_at + tolerance)
    fast = parse_fast(frame.raw, window)
    if fast is not None:
        kind, sid, seq, sending_ts, body, fingerprint = fast
        return Parsed(kind, sid, seq, body, None, None, sending_ts, fingerprint)
    message = None
    try:
        message = decode(frame.raw)
        parsed = envelope(message, window)
        if parsed.type in DATA_TYPES:
            parsed.body = validate(COLUMNS[parsed.type], object_of(message.get("msg"), "msg"),
                                   window)
        elif parsed.type in CONTROL_TYPES:
            validate(REPLY, message)
            if parsed.type in CONTROL:  # `ok` and `unsubscribed`: nothing acted on beyond it
                msg = message.get("msg")
                parsed.body = validate(CONTROL[parsed.type], {} if msg is None else object_of(
                    msg, "msg"))
        else:
            raise Invalid(f"unknown message type {parsed.type!r}")
    except Invalid as exc:
        return Parsed(type=_type_or_none(message), reason=str(exc))
    parsed.message = message
    return parsed


def envelope(message: Any, window: tuple[datetime, datetime] | None = None) -> Parsed:
    """The envelope's type, sid, seq and send time, checked by ENVELOPE's rules."""
    if type(message) is not dict:
        raise Invalid(f"frame is a JSON {type(message).__name__}, not an object")
    kind = message.get("type")
    if type(kind) is not str:
        raise Invalid("frame has no string 'type'")
    values = validate(ENVELOPE, message, window)
    return Parsed(type=kind, sid=values["sid"], seq=values["seq"],
                  sending_ts=values["sending_ts"])


def _type_or_none(message: Any) -> str | None:
    if type(message) is dict and type(message.get("type")) is str:
        return message["type"]
    return None


# --- column tables: per message type, column ← Kalshi field, read and checked by a reader -----

class Field(NamedTuple):
    """One line of a column table: the column(s) ← the Kalshi field, read and checked by `read`.
    Rules as data: `optional`: the field may be absent or null; `fallback` (field, reader): read
    instead when the field is absent and that one is present (a deprecated or legacy field:
    mapped, or refused by rules.legacy); `near_receipt`: an exchange time, refused when it is
    farther than the tolerance from the receive time. A reader that yields several columns (a
    side's levels) names them as a tuple, in the order it returns their values."""

    column: str | tuple[str, ...]
    field: str
    read: Reader
    optional: bool = False
    fallback: tuple[str, Reader] | None = None
    near_receipt: bool = False


def _legacy(name: str) -> tuple[str, Reader]:
    return (name, legacy)


def _lifecycle(kind: str) -> Reader:
    """The lifecycle rules table (kstore.gatherer.lifecycle) over the whole `msg`: a frame the
    registry could not apply is quarantined here, with the first bad field. No column."""
    def read(msg: dict, key: str, optional: bool = False) -> tuple:
        lifecycle.read(kind, msg)
        return ()
    return read


ENVELOPE: tuple[Field, ...] = (
    Field("sid", "sid", sid_number, True),
    Field("seq", "seq", seq_number, True),
    Field("sending_ts", "sending_ts_ms", timestamp_ms, True, near_receipt=True),
)

# Each message type's fields, in the order they are checked (the first bad one is the reason).
COLUMNS: dict[str, tuple[Field, ...]] = {
    "orderbook_snapshot": (
        Field(("yes_prices", "yes_sizes"), "yes_dollars_fp", levels, True, _legacy("yes")),
        Field(("no_prices", "no_sizes"), "no_dollars_fp", levels, True, _legacy("no")),
        Field((), "msg", empty_book_proven),  # neither side: nothing but a snapshot's fields
        Field("market_ticker", "market_ticker", symbol),
    ),
    "orderbook_delta": (
        Field("market_ticker", "market_ticker", symbol),
        Field("side", "side", SIDE),
        Field("price", "price_dollars", price, False, _legacy("price")),
        Field("delta", "delta_fp", signed_size, False, _legacy("delta")),
        # absent (even with the deprecated RFC3339 `ts`): the stream keys it per gatherer
        Field("ts", "ts_ms", timestamp_ms, True, near_receipt=True),
    ),
    "trade": (
        Field("trade_id", "trade_id", uuid_text),
        Field("count", "count_fp", nonzero_size, False, _legacy("count")),
        Field("is_block_trade", "is_block_trade", flag, True),
        Field("ts", "ts_ms", timestamp_ms, False, _legacy("ts"), near_receipt=True),
        Field("market_ticker", "market_ticker", symbol),
        Field("yes_price", "yes_price_dollars", price, False, _legacy("yes_price")),
        Field("no_price", "no_price_dollars", price, False, _legacy("no_price")),
        Field("taker_outcome_side", "taker_outcome_side", SIDE, True, ("taker_side", SIDE)),
        Field("taker_book_side", "taker_book_side", BOOK_SIDE, True,
              ("taker_side", book_side_of)),
    ),
    "ticker": (
        Field("market_ticker", "market_ticker", symbol),
        Field("ts", "ts_ms", timestamp_ms, False, _legacy("ts"), near_receipt=True),
        Field("price", "price_dollars", price, True, _legacy("price")),
        Field("yes_bid", "yes_bid_dollars", price, True, _legacy("yes_bid")),
        Field("yes_ask", "yes_ask_dollars", price, True, _legacy("yes_ask")),
        Field("yes_bid_size", "yes_bid_size_fp", size, True),
        Field("yes_ask_size", "yes_ask_size_fp", size, True),
        Field("last_trade_size", "last_trade_size_fp", size, True),
        Field("volume", "volume_fp", size, True, _legacy("volume")),
        Field("open_interest", "open_interest_fp", size, True, _legacy("open_interest")),
        Field("dollar_volume", "dollar_volume", integer, True),
        Field("dollar_open_interest", "dollar_open_interest", integer, True),
    ),
    "market_lifecycle_v2": (
        Field("market_ticker", "market_ticker", symbol),
        Field("event_type", "event_type", text),
        Field((), "msg", _lifecycle("market_lifecycle_v2")),  # every field the registry applies
    ),
    "event_lifecycle": (
        Field("event_ticker", "event_ticker", symbol),
        Field("series_ticker", "series_ticker", symbol, True),
        Field((), "msg", _lifecycle("event_lifecycle")),
    ),
}

# Control replies whose `msg` the connection acts on (KALSHI-API §3.3): typed here, so a
# malformed reply is quarantined instead of reaching a handler. An absent `msg` reads as {}.
REPLY: tuple[Field, ...] = (Field("id", "id", integer, True),)  # the command id echoed
CONTROL: dict[str, tuple[Field, ...]] = {
    "subscribed": (
        Field("channel", "channel", text),
        Field("sid", "sid", sid_number, False),
    ),
    "error": (
        Field("code", "code", integer, True),
        Field("message", "msg", text, True),
    ),
}

# GET /markets/{ticker}/orderbook's `orderbook_fp` object (kstore.gatherer.snapshots).
REST_BOOK: tuple[Field, ...] = (
    Field(("yes_prices", "yes_sizes"), "yes_dollars", levels, True),
    Field(("no_prices", "no_sizes"), "no_dollars", levels, True),
)


def validate(fields: tuple[Field, ...], msg: dict,
             window: tuple[datetime, datetime] | None = None) -> dict:
    """The message's values by column name; raises Invalid with the first bad field's reason.
    `window`: the plausible range of exchange times (None: not checked)."""
    body = {}
    for column, key, read, optional, fallback, near_receipt in fields:
        if fallback is not None and msg.get(key) is None and msg.get(fallback[0]) is not None:
            key, read = fallback
        value = read(msg, key, optional)
        if type(column) is not str:
            body.update(zip(column, value))
            continue
        if near_receipt and value is not None and window is not None and not (
                window[0] <= value <= window[1]):
            raise Invalid(f"implausible time: {key} {value.isoformat()} is more than "
                          f"{(window[1] - window[0]) / 2} from the receive time")
        body[column] = value
    return body
