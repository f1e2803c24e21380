"""Per-connection faults: gaps, duplicates, malformed frames, disconnects, slow consumers.

Contracts (what a gatherer trio may rely on):
- Faults never take an event from every connection. A dropped event is dropped only by the
  connection slots (slot = lowest free number among live connections, modulo `fault_slots`)
  named by a hash of its ts_ms, at most two of them, and never by every connection that would
  receive it. Keying by ts_ms (not by index) drops all events of one exchange millisecond
  together, so identical deltas of the same ms (two equal orders) are kept or lost as a run:
  some connection always holds the whole run, and a union by (key, ordinal among identical
  keys within one connection) reproduces the truth. A drop still consumes the sid's seq, so it
  shows as a seq gap.
- Disconnects and injected error 25 are staggered: slot s fires at start + every*(k + s/slots).
- Duplicates resend an identical frame (same sid and seq). Malformed frames are extra frames
  between valid ones; they never advance a seq (a sequenced one repeats the last seq sent).
- All choices are functions of (seed, event index, slot): the same run has the same faults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from .units import mix64, unit

DROP, DUPLICATE, MALFORMED = 1, 2, 3


class RawText(bytes):
    """Bytes to send as a *text* frame without UTF-8 validation (the non-UTF-8 fault)."""


Frame = str | bytes  # str: text frame; bytes: binary frame; RawText: text frame of raw bytes


class Dice:
    """Deterministic fault decisions per event index and connection slot."""

    def __init__(self, seed: int, slots: int, drop: float, duplicate: float, malformed: float) -> None:
        self.key = mix64(seed ^ 0xFA017)
        self.slots = slots
        self.odds = {DROP: drop, DUPLICATE: duplicate, MALFORMED: malformed}

    def drop_slots(self, ts_ms: int) -> tuple[int, ...]:
        """The (at most two) slots that drop the events of exchange millisecond `ts_ms`; usually none."""
        h = mix64(self.key ^ (ts_ms << 4 | DROP))
        if unit(h) >= self.odds[DROP]:
            return ()
        first, second = (h >> 8) % self.slots, (h >> 24) % self.slots
        return (first,) if first == second or (h >> 40) & 1 else (first, second)

    def hit(self, kind: int, index: int, slot: int) -> bool:
        h = mix64(self.key ^ (index << 12 | (slot % self.slots) << 4 | kind))
        return unit(h) < self.odds[kind]


def next_fire(now: float, start: float, every: float, slot: int, slots: int) -> tuple[float, int]:
    """(time, k) of the slot's next staggered firing at least every/2 after `now`."""
    phase = start + every * (slot % slots) / slots
    k = max(1, math.ceil((now + every / 2 - phase) / every))
    return phase + k * every, k


@dataclass(frozen=True)
class Sample:
    """What malformed frames are built from: real sids (the book sid with its last seq) and time."""

    sid: int  # a trade subscription's sid when there is one
    book_sid: int  # an orderbook_delta sid when there is one
    book_seq: int | None  # last seq sent on book_sid (None: not sequenced)
    ticker: str
    ts_ms: int


def _envelope(type_: str, s: Sample, msg: str, seq: bool = False) -> str:
    """Envelope; `seq=True` frames ride the book sid and repeat its last seq (never a new one)."""
    if seq:
        seq_part = f',"seq":{s.book_seq}' if s.book_seq is not None else ""
        return f'{{"type":"{type_}","sid":{s.book_sid}{seq_part},"msg":{msg}}}'
    return f'{{"type":"{type_}","sid":{s.sid},"msg":{msg}}}'


def _trade(s: Sample, **override: str) -> str:
    """A trade msg with a fixed, never-real trade_id; `override` holds raw JSON values."""
    fields = {
        "trade_id": '"00000000-0000-4000-8000-00000000bad0"', "market_ticker": f'"{s.ticker}"',
        "yes_price_dollars": '"0.3600"', "no_price_dollars": '"0.6400"', "count_fp": '"1.00"',
        "taker_side": '"no"', "taker_outcome_side": '"no"', "taker_book_side": '"ask"',
        "is_block_trade": "false", "ts": str(s.ts_ms // 1000), "ts_ms": str(s.ts_ms),
    }
    fields.update(override)
    return "{" + ",".join(f'"{k}":{v}' for k, v in fields.items() if v is not None) + "}"


def _delta(s: Sample, **override: str) -> str:
    fields = {
        "market_ticker": f'"{s.ticker}"', "market_id": '"00000000-0000-4000-8000-00000000bad1"',
        "price_dollars": '"0.5000"', "delta_fp": '"1.00"', "side": '"yes"', "ts_ms": str(s.ts_ms),
    }
    fields.update(override)
    return "{" + ",".join(f'"{k}":{v}' for k, v in fields.items() if v is not None) + "}"


def _oversized(s: Sample) -> str:
    """A syntactically valid ticker frame larger than 1 MiB (default client max_size)."""
    return _envelope("ticker", s, '{"market_ticker":"%s","padding":"%s"}' % (s.ticker, "x" * (1 << 20)))


# name -> builder; injected in this order, cycling, so n*len(CATALOGUE) injections show all.
CATALOGUE: dict[str, Callable[[Sample], Frame]] = {
    "bad_json": lambda s: _envelope("trade", s, _trade(s))[:-17],
    "not_an_object": lambda s: f'["trade",{s.sid}]',
    "empty_frame": lambda s: "",
    "unknown_type": lambda s: _envelope("orderbook_delta_v3", s, _delta(s), seq=True),
    "missing_msg": lambda s: f'{{"type":"trade","sid":{s.sid}}}',
    "missing_type": lambda s: f'{{"sid":{s.sid},"msg":{_trade(s)}}}',
    "missing_trade_id": lambda s: _envelope("trade", s, _trade(s, trade_id=None)),
    "missing_price": lambda s: _envelope("orderbook_delta", s, _delta(s, price_dollars=None), seq=True),
    "price_as_number": lambda s: _envelope("trade", s, _trade(s, yes_price_dollars="0.36")),
    "size_as_number": lambda s: _envelope("trade", s, _trade(s, count_fp="136")),
    "ts_ms_as_string": lambda s: _envelope("trade", s, _trade(s, ts_ms=f'"{s.ts_ms}"')),
    "sid_as_string": lambda s: f'{{"type":"trade","sid":"{s.sid}","msg":{_trade(s)}}}',
    "bad_side": lambda s: _envelope("orderbook_delta", s, _delta(s, side='"maybe"'), seq=True),
    "negative_price": lambda s: _envelope("orderbook_delta", s, _delta(s, price_dollars='"-0.5000"'), seq=True),
    "absurd_price": lambda s: _envelope("orderbook_delta", s, _delta(s, price_dollars='"7.0000"'), seq=True),
    "bad_decimal": lambda s: _envelope("orderbook_delta", s, _delta(s, price_dollars='"0.12.5"'), seq=True),
    "too_many_decimals": lambda s: _envelope("trade", s, _trade(s, yes_price_dollars='"0.1234567"')),
    "negative_size": lambda s: _envelope("trade", s, _trade(s, count_fp='"-5.00"')),
    "nan_literal": lambda s: _envelope("orderbook_delta", s, _delta(s, delta_fp="NaN"), seq=True),
    "legacy_cents": lambda s: _envelope("orderbook_delta", s, _delta(s, price_dollars=None, delta_fp=None,
                                                                      price="45", delta="10"), seq=True),
    "oversized": _oversized,
    "non_utf8_text": lambda s: RawText(_envelope("trade", s, _trade(s)).encode().replace(b"0.3600", b"0.36\xff\xfe")),
    "binary_frame": lambda s: b"\x00\x01\x02\xff\xfe binary garbage \x80",
}


def names_in(value: object, allowed, what: str) -> tuple[str, ...]:
    """`"a,b"` or an iterable of names -> those names, each one of `allowed` (ValueError names
    the unknown ones and the choices: `what` is the kind, e.g. "fault")."""
    names = value.split(",") if isinstance(value, str) else list(value or ())
    names = [n.strip() for n in names if n and n.strip()]
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; choose from {','.join(allowed)}")
    return tuple(names)
