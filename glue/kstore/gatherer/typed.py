"""The fast path of parse: the hot data messages decoded straight into typed msgspec Structs.

Contract: `parse_fast(frame, window)` returns exactly the `Parsed` that parse.parse returns for
a frame it accepts, or None, and then parse.parse decides (reason and all). It accepts only
frames that are valid beyond doubt, so a wrong guess here costs speed, never a verdict:
- one of FAST_TYPES, a JSON object with no key beyond the envelope's and each message's
  documented fields (`forbid_unknown_fields`), every field of the type its rule reads, no
  null, no legacy-only payload (a Field's fallback present without its field);
- no BOM, no `\\u0000`, within MAX_FRAME_BYTES, and as many `":` in the bytes (whitespace
  removed) as keys decoded: a duplicate key or a `":` inside a string goes the slow way;
- a ticker only in plain ASCII without escapes, so that the sorted msgspec encoding of its
  `msg` is byte for byte what stream.fingerprint hashes.
The Structs are generated from the rules table (parse.ENVELOPE, parse.COLUMNS): each reader of
kstore.gatherer.rules has a msgspec type (checked by the decoder, in C) and a conversion to the
column value that applies the reader's string form (its regex, cached: prices, tickers and sizes
repeat) and range (TYPES); a value only the reader can judge (a price above 1 dollar, a zero
size, an implausible time) sends the frame to the slow path.
"""

from __future__ import annotations

import hashlib
import uuid
from operator import attrgetter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

import msgspec
from msgspec import UNSET, Meta

from kstore.gatherer import rules
from kstore.gatherer.decode import MAX_FRAME_BYTES, WHITESPACE

FAST_TYPES = ("orderbook_delta", "trade", "ticker", "orderbook_snapshot")
# Fields the exchange documents besides the ones a rule reads (KALSHI-API 3.5-3.7): accepted,
# not stored. A snapshot takes no other field (rules.empty_book_proven).
IGNORED = {"orderbook_delta": ("market_id", "ts", "client_order_id", "subaccount"),
           "trade": ("market_id",), "ticker": ("market_id", "ts", "time"),
           "orderbook_snapshot": ("market_id",)}


CACHED = 20_000  # checked strings remembered per rule (prices, tickers and sizes repeat)


class _Slow(Exception):
    """The fast path cannot vouch for this frame: parse.parse decides."""


def _checked(form, convert):
    """`convert(text)` once `form` fullmatches it; results are remembered (pure functions)."""
    cache: dict[str, Any] = {}

    def check(text: str):
        value = cache.get(text)
        if value is None:
            if not form.fullmatch(text):
                raise _Slow
            value = convert(text)
            if len(cache) >= CACHED:
                cache.clear()
            cache[text] = value
        return value
    return check


def _at_most_one(value: Decimal) -> Decimal:
    if value > rules.ONE:
        raise _Slow
    return value


def _nonzero(value: Decimal) -> Decimal:
    if not value:
        raise _Slow
    return value


_price = _checked(rules.PRICE_TEXT, lambda text: _at_most_one(Decimal(text)))
_size = _checked(rules.SIZE_TEXT, Decimal)
_signed = _checked(rules.SIGNED_SIZE_TEXT, Decimal)


def _levels(pairs: list) -> tuple[list[Decimal], list[Decimal]]:
    levels = sorted((_price(p), _size(s)) for p, s in pairs)
    return [p for p, _ in levels], [s for _, s in levels]


def _same(value):
    return value


_MS: dict[int, datetime] = {}


def _millis(value: int) -> datetime:
    found = _MS.get(value)
    if found is None:
        if len(_MS) >= CACHED:
            _MS.clear()
        found = _MS[value] = rules.EPOCH + timedelta(milliseconds=value)
    return found


def _int(bounds: tuple[int, int]):
    return Annotated[int, Meta(ge=bounds[0], le=bounds[1])]


Scalar = Union[str, int, bool]  # a field no rule reads: shallow, never null

# reader → (msgspec type, conversion to the column value, value when absent). Types are checked
# by the decoder in C; string forms by the conversions (cached regex checks).
TYPES: dict[Any, tuple[Any, Any, Any]] = {
    rules.symbol: (str, _checked(rules.TICKER, _same), None),
    rules.price: (str, _price, None),
    rules.size: (str, _size, None),
    rules.nonzero_size: (str, lambda text: _nonzero(_size(text)), None),
    rules.signed_size: (str, lambda text: _nonzero(_signed(text)), None),
    rules.integer: (_int(rules.INT64), _same, None),
    rules.sid_number: (_int(rules.UINT32), _same, None),
    rules.seq_number: (_int(rules.UINT64), _same, None),
    rules.timestamp_ms: (Annotated[int, Meta(ge=rules.MS_RANGE[0], le=rules.MS_RANGE[1])],
                         _millis, None),
    rules.uuid_text: (str, _checked(rules.UUID_TEXT, uuid.UUID), None),
    rules.flag: (bool, _same, False),
    rules.SIDE: (Literal["yes", "no"], _same, None),
    rules.BOOK_SIDE: (Literal["bid", "ask"], _same, None),
    rules.levels: (list[tuple[str, str]], _levels, None),  # absent: no levels
    rules.empty_book_proven: None,  # no field: the Struct takes only a snapshot's fields
}


def _struct(name: str, fields, extra=(), **options) -> type:
    """A Struct of the Kalshi fields of a rules table: required unless the rule is optional,
    a fallback field and the IGNORED ones as scalars that are never read."""
    spec, seen = [], set()
    for column, key, read, optional, fallback, near in fields:
        if TYPES[read] is None:
            continue
        kind = TYPES[read][0]
        spec.append((key, kind, UNSET) if optional else (key, kind))
        seen.add(key)
    for key in [*(f.fallback[0] for f in fields if f.fallback), *extra]:
        if key not in seen:
            spec.append((key, Scalar, UNSET))
            seen.add(key)
    return msgspec.defstruct(name, spec, kw_only=True, forbid_unknown_fields=True, **options)


def _plan(fields) -> tuple:
    """A getter of the fields' values (a tuple), and per field: column(s), conversion, value
    when absent, fallback key, near_receipt."""
    used = [field for field in fields if TYPES[field.read] is not None]
    keys = [field.field for field in used]
    getter = attrgetter(*keys) if len(keys) > 1 else lambda struct: (getattr(struct, keys[0]),)
    return getter, tuple((column, None if TYPES[read][1] is _same else TYPES[read][1],
                          TYPES[read][2],
                          fallback[0] if fallback else None, near)
                         for column, key, read, optional, fallback, near in used)


class _Type:
    """What the fast path knows of one message type: its Structs, plans and key count."""

    def __init__(self, kind: str, envelope, columns) -> None:
        self.msg = _struct(f"{kind}_msg", columns, IGNORED[kind])
        self.frame = msgspec.defstruct(
            f"{kind}_frame", [*((f.field, TYPES[f.read][0], UNSET) for f in envelope),
                              ("msg", self.msg)],
            kw_only=True, forbid_unknown_fields=True, tag_field="type", tag=kind)
        self.plan, self.envelope = _plan(columns), _plan(envelope)
        # keys = every field (and the `type` tag) minus the optional ones that are UNSET
        self.keys = 1 + len(self.frame.__struct_fields__) + len(self.msg.__struct_fields__)
        self.frame_optional = _optional(self.frame)
        self.msg_optional = _optional(self.msg)


def _optional(struct: type):
    """A getter of the fields of `struct` that may be absent (default UNSET), as a tuple."""
    fields, defaults = struct.__struct_fields__, struct.__struct_defaults__
    names = [name for name, default in zip(fields[len(fields) - len(defaults):], defaults)
             if default is UNSET]
    getter = attrgetter(*names)
    return getter if len(names) > 1 else lambda struct: (getter(struct),)


def _build() -> tuple[msgspec.json.Decoder, dict[type, tuple[str, _Type]]]:
    from kstore.gatherer.parse import COLUMNS, ENVELOPE
    kinds = {kind: _Type(kind, ENVELOPE, COLUMNS[kind]) for kind in FAST_TYPES}
    decoder = msgspec.json.Decoder(Union[tuple(t.frame for t in kinds.values())])
    return decoder, {t.frame: (kind, t) for kind, t in kinds.items()}


_decoder, _KINDS = None, {}


def parse_fast(raw: bytes, window: tuple[datetime, datetime]):
    """(type, sid, seq, sending_ts, body, fingerprint) of a frame valid beyond doubt, or None
    (see the module contract). `fingerprint` is set for tickers only."""
    global _decoder, _KINDS
    if _decoder is None:
        _decoder, _KINDS = _build()
    if len(raw) > MAX_FRAME_BYTES or raw[:1] != b"{" or b"\\u0000" in raw:
        return None
    try:
        frame = _decoder.decode(raw)
        kind, spec = _KINDS[type(frame)]
        msg = frame.msg
        present = spec.keys - spec.frame_optional(frame).count(UNSET) - \
            spec.msg_optional(msg).count(UNSET)
        if raw.translate(None, WHITESPACE).count(b'":') != present:
            return None  # a duplicate key, or a `":` inside a string: the exact check decides
        envelope = _values(spec.envelope, frame, window)
        body = _values(spec.plan, msg, window)
        fingerprint = _fingerprint(raw, msg) if kind == "ticker" else None
    except (msgspec.DecodeError, _Slow, RecursionError):
        return None
    return kind, envelope["sid"], envelope["seq"], envelope["sending_ts"], body, fingerprint


def _fingerprint(raw: bytes, msg) -> int:
    """stream.fingerprint of the ticker's `msg`, from its sorted msgspec encoding, which is
    the same bytes when every string is plain ASCII (no escape in the frame)."""
    if not raw.isascii() or b"\\" in raw:
        raise _Slow
    canonical = msgspec.json.encode(msg, order="sorted")
    return int.from_bytes(hashlib.blake2b(canonical, digest_size=8).digest(), "big", signed=True)


def _values(plan: tuple, struct, window: tuple[datetime, datetime]) -> dict:
    """The column values of `struct` by its plan; raises _Slow for what only a rule judges."""
    getter, fields = plan
    body = {}
    for (column, convert, absent, fallback, near), value in zip(fields, getter(struct)):
        if value is UNSET:
            if fallback is not None and getattr(struct, fallback) is not UNSET:
                raise _Slow  # a legacy or deprecated field alone: the slow path's rule
            value = absent
        elif convert is not None:
            value = convert(value)
            if near and not window[0] <= value <= window[1]:
                raise _Slow
        if column.__class__ is str:
            body[column] = value
        else:
            body.update(zip(column, value or ([], [])))
    return body
