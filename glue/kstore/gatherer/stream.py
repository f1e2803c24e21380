"""One gatherer's stream state: sequence checks, dup ordinals, fingerprints, rows.

`Stream.accept(frame)` turns a received frame into rows for the writers (through `sink`) and
tells the connection what to do next. Guarantees:
- a valid frame whose seq was already seen on its (connection, sid) is a duplicate: dropped,
  counted (invalid frames are quarantined first, whatever seq they carry);
- a seq jump is a gap: reported once (`Gap`), the frame itself is still stored (it is a real
  exchange event), and the sid's books stay "unrecovered" until a snapshot of each arrives;
- identical delta tuples (market, ts, side, price, delta) get dup_ordinal 0, 1, … in arrival
  order, so two equal orders in the same millisecond are two rows on every gatherer;
- every frame that fails validation becomes one quarantine row with its exact bytes; nothing
  else is affected, and no input raises out of `accept` (an unexpected error while handling a
  frame quarantines it with the error as the reason, and is logged);
- rows carry their frame's bytes (rows.Row), so a row the database rejects is quarantined with
  them too.
Rows are built by column name: the message's columns (kstore.gatherer.parse.COLUMNS), the
frame's and envelope's (received_at, connection, sid, seq, …) and the stream's own (`ROWS`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from kstore.gatherer.parse import TIME_TOLERANCE, Frame, Parsed, parse
from kstore.gatherer.rows import row_of

log = logging.getLogger(__name__)

Sink = Callable[[str, tuple], None]
MAX_REASON = 500  # characters of a quarantine reason (it may quote a field's value)


@dataclass
class Gap:
    """A seq jump on one subscription: expected seq, received seq, and the books to recover."""

    connection_id: str
    sid: int
    channel: str
    expected_seq: int
    received_seq: int
    detected_at: datetime
    pending: set[str] = field(default_factory=set)
    gap_id: int | None = None


@dataclass
class Outcome:
    """What the connection should act on after a frame (all optional)."""

    parsed: Parsed
    gap: Gap | None = None
    recovered: list[Gap] = field(default_factory=list)
    duplicate: bool = False


def fingerprint(msg: dict) -> int:
    """A signed 64-bit hash of a ticker payload as sent (key order does not matter)."""
    canonical = json.dumps(msg, sort_keys=True, separators=(",", ":")).encode()
    return int.from_bytes(hashlib.blake2b(canonical, digest_size=8).digest(), "big", signed=True)


class Stream:
    def __init__(self, gatherer_id: str, sink: Sink,
                 markets_of: Callable[[str, int], set[str]] = lambda conn, sid: set(),
                 time_tolerance: timedelta = TIME_TOLERANCE):
        self.gatherer_id = gatherer_id
        self.time_tolerance = time_tolerance
        self.failures: dict[str, int] = {}  # unexpected errors while handling a frame, by kind
        self._sink = sink
        self.markets_of = markets_of
        self.last_seq: dict[tuple[str, int], int] = {}
        self.open_gaps: dict[tuple[str, int], list[Gap]] = {}
        self.ordinals: dict[str, tuple[datetime, dict[tuple, int]]] = {}
        self.counts = {"frames": 0, "rows": 0, "duplicates": 0, "gaps": 0, "quarantined": 0}

    def sink(self, table: str, row: tuple) -> None:
        """Every row handed to the writers is counted: after a flush, rows == committed."""
        self.counts["rows"] += 1
        self._sink(table, row)

    def accept(self, frame: Frame) -> Outcome:
        self.counts["frames"] += 1
        try:
            return self._accept(frame)
        except Exception as exc:  # a bug or a resource limit, never a reason to stop capture
            if type(exc).__name__ not in self.failures:  # logged once per kind, then counted
                log.exception("gather: frame handling failed; the frame is quarantined")
            self.failures[type(exc).__name__] = self.failures.get(type(exc).__name__, 0) + 1
            reason = f"internal error: {type(exc).__name__}: {exc}"
            self._quarantine(frame, reason)
            return Outcome(Parsed(reason=reason))

    def _accept(self, frame: Frame) -> Outcome:
        parsed = parse(frame, self.time_tolerance)
        outcome = Outcome(parsed)
        if parsed.reason is not None:  # before the seq check: a bad frame may reuse a seq
            self._quarantine(frame, parsed.reason)
            return outcome
        if parsed.seq is not None and parsed.sid is not None and parsed.type != "ok":
            if not self._sequence(frame, parsed, outcome):
                return outcome
        rows = ROWS.get(parsed.type)
        if rows is not None:
            table, complete = rows
            values = self._values(frame, parsed)
            if complete is not None:
                complete(self, frame, parsed, values, outcome)
            self.sink(table, row_of(table, values, frame.raw))
        return outcome

    def forget_connection(self, connection_id: str) -> list[Gap]:
        """A closed connection's sids are gone; returns its open gaps, which the next
        connection's subscriptions (fresh snapshots of every market) recover."""
        for key in [key for key in self.last_seq if key[0] == connection_id]:
            del self.last_seq[key]
        orphans = [gap for key, gaps in self.open_gaps.items() if key[0] == connection_id
                   for gap in gaps]
        self.open_gaps = {k: v for k, v in self.open_gaps.items() if k[0] != connection_id}
        return orphans

    def _sequence(self, frame: Frame, parsed: Parsed, outcome: Outcome) -> bool:
        key = (frame.connection_id, parsed.sid)
        last = self.last_seq.get(key)
        if last is not None and parsed.seq <= last:
            self.counts["duplicates"] += 1
            outcome.duplicate = True
            return False
        self.last_seq[key] = parsed.seq
        if last is not None and parsed.seq > last + 1:
            gap = Gap(frame.connection_id, parsed.sid, "orderbook_delta", last + 1, parsed.seq,
                      frame.received_at, set(self.markets_of(frame.connection_id, parsed.sid)))
            self.open_gaps.setdefault(key, []).append(gap)
            self.counts["gaps"] += 1
            outcome.gap = gap
        return True

    def _quarantine(self, frame: Frame, reason: str) -> None:
        self.counts["quarantined"] += 1
        self.sink("quarantine", row_of("quarantine", {
            "gatherer_id": self.gatherer_id, "connection_id": frame.connection_id,
            "received_at": frame.received_at, "reason": _printable(reason),
            "raw": frame.raw}))

    def _values(self, frame: Frame, parsed: Parsed) -> dict:
        """The message's columns (parse.COLUMNS) and what the frame and envelope add to them."""
        values = parsed.body.copy()
        values["received_at"], values["connection_id"] = frame.received_at, frame.connection_id
        values["use_yes_price"], values["sid"], values["seq"] = (
            frame.use_yes_price, parsed.sid, parsed.seq)
        values["sending_ts"], values["gatherer_id"] = parsed.sending_ts, self.gatherer_id
        return values

    def _snapshot(self, frame: Frame, parsed: Parsed, values: dict, outcome: Outcome) -> None:
        values["captured_at"], values["source"] = frame.received_at, "ws"
        outcome.recovered = self._recover(frame.connection_id, parsed.sid, values["market_ticker"])

    def _recover(self, connection_id: str, sid: int, market: str) -> list[Gap]:
        gaps = self.open_gaps.get((connection_id, sid), [])
        for gap in gaps:
            gap.pending.discard(market)
        done = [gap for gap in gaps if not gap.pending]
        if done:
            self.open_gaps[(connection_id, sid)] = [gap for gap in gaps if gap.pending]
        return done

    def _delta(self, frame: Frame, parsed: Parsed, values: dict, outcome: Outcome) -> None:
        ts, scope = values["ts"], ""
        if ts is None:  # no exchange time: only this gatherer's own copy can match it
            ts, scope = frame.received_at, self.gatherer_id
        values["ts"], values["key_scope"] = ts, scope
        values["dup_ordinal"] = self._ordinal(
            values["market_ticker"], ts, (values["side"], values["price"], values["delta"], scope))

    def _ordinal(self, market: str, ts: datetime, key: tuple) -> int:
        current_ts, seen = self.ordinals.get(market, (None, {}))
        if current_ts != ts:
            seen = {}
            self.ordinals[market] = (ts, seen)
        ordinal = seen.get(key, 0)
        seen[key] = ordinal + 1
        return ordinal

    def _ticker(self, frame: Frame, parsed: Parsed, values: dict, outcome: Outcome) -> None:
        values["fingerprint"] = (parsed.fingerprint if parsed.fingerprint is not None
                                 else fingerprint(parsed.message["msg"]))


def _printable(reason: str) -> str:
    """A reason PostgreSQL text takes: bounded, no NUL, lone surrogates escaped."""
    text = reason[:MAX_REASON].replace("\x00", "")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


Completion = Callable[[Stream, Frame, Parsed, dict, Outcome], None]

# Message types that become rows: their table, and what the stream adds to the message's
# columns (stream state: dup ordinals, key scope, fingerprint, gap recovery; None: nothing).
ROWS: dict[str, tuple[str, Completion | None]] = {
    "orderbook_snapshot": ("orderbook_snapshots", Stream._snapshot),
    "orderbook_delta": ("orderbook_deltas", Stream._delta),
    "trade": ("trades", None),
    "ticker": ("tickers", Stream._ticker),
}
