"""Journal records back into a gatherer's databases, through its own parse and `on conflict`
path: the engine of crash recovery and `kstore reparse` (decisions 0036, 0037).

Guarantees: every record is handed to a fresh kstore.gatherer.stream.Stream exactly as the live
gatherer handed the frame (same bytes, receive time, connection id, feed setting), so the rows
are the rows the live run made. Rows go to the time-series tables through a
kstore.gatherer.writer.Writers (`on conflict do nothing` on each dedup key); quarantine rows
and seq-jump feed_gaps rows, which have no natural key, are inserted only where an identical one
is not there. Applying the same records twice therefore adds nothing. Order-dependent state
(dup ordinals, the seq check) comes from `warm` records, replayed first with their rows
dropped: the `lookback` before the window (decision 0036 says what that cannot see).
Lifecycle frames are applied to the `rel` database again (newest version wins there).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

import psycopg

from kstore.gatherer import gaps as gap_rows
from kstore.gatherer.parse import Frame
from kstore.gatherer.registry import Registry
from kstore.gatherer.stream import Stream
from kstore.gatherer.writer import Writers
from kstore.journal.format import Record

log = logging.getLogger("kstore.journal")
BACKLOG = 50_000  # rows queued in the writers before reading on waits
LIFECYCLE = ("market_lifecycle_v2", "event_lifecycle")
CHANNEL_OF = {"orderbook_snapshot": "orderbook_delta", "orderbook_delta": "orderbook_delta",
              "trade": "trade", "ticker": "ticker", "market_lifecycle_v2": "market_lifecycle_v2",
              "event_lifecycle": "market_lifecycle_v2"}
QUARANTINE = """
insert into kstore.quarantine (gatherer_id, connection_id, received_at, reason, raw)
select %(gatherer_id)s, %(connection_id)s, %(received_at)s, %(reason)s, %(raw)s
where not exists (select from kstore.quarantine where received_at = %(received_at)s
    and connection_id is not distinct from %(connection_id)s and raw = %(raw)s)
"""
GAP_KEY = ("gatherer_id = %(gatherer_id)s and connection_id = %(connection_id)s and sid = %(sid)s"
           " and expected_seq = %(expected_seq)s and received_seq = %(received_seq)s")
GAP = f"""
insert into kstore.feed_gaps (gatherer_id, connection_id, sid, channel, expected_seq,
    received_seq, detected_at, cause, market_ticker, last_frame_at, resumed_at)
select %(gatherer_id)s, %(connection_id)s, %(sid)s, %(channel)s, %(expected_seq)s,
    %(received_seq)s, %(detected_at)s, %(cause)s, %(market_ticker)s, %(last_frame_at)s,
    %(resumed_at)s
where not exists (select from kstore.feed_gaps where {GAP_KEY})
"""
RECOVERED = f"""
update kstore.feed_gaps set recovered_at = %(at)s, recovery = 'get_snapshot'
where {GAP_KEY} and recovered_at is null
"""
GAP_COLUMNS = ("gatherer_id", "connection_id", "sid", "channel", "expected_seq", "received_seq",
               "detected_at", "cause", "market_ticker", "last_frame_at", "resumed_at")


def frame_of(record: Record) -> Frame:
    return Frame(record.raw, record.received_at, record.connection_id, record.use_yes_price)


class Applier:
    """Applies records for one gatherer; `counts` after `close()`: frames read, rows added
    (inserted, by table), quarantined (added), gaps (added), lifecycle frames applied."""

    def __init__(self, gatherer_id: str, ts_dsn: str, rel_dsn: str | None,
                 tolerance: timedelta, batch_rows: int = 1000):
        self.gatherer_id, self.ts_dsn = gatherer_id, ts_dsn
        self.writers = Writers(ts_dsn, batch_rows, 0.05, 2, gatherer_id=gatherer_id)
        self.registry = Registry(rel_dsn, None, gatherer_id) if rel_dsn else None
        self.stream = Stream(gatherer_id, self._sink, time_tolerance=tolerance)
        self.counts = {"frames": 0, "warm_frames": 0, "quarantined": 0, "gaps": 0,
                       "lifecycle": 0}
        self.last_at: dict[str, object] = {}  # receive time of each connection's last frame
        self.channels: dict[tuple[str, int], str] = {}  # (connection, sid) → channel seen
        self._emit, self._quarantine, self._gaps = False, [], []
        self._lifecycle: list[tuple] = []

    async def start(self) -> None:
        await self.writers.start()

    def warm(self, record: Record) -> None:
        """A record before the window: it only moves the stream's order-dependent state."""
        self._emit = False
        self.counts["warm_frames"] += 1
        self._observe(record, self.stream.accept(frame_of(record)))

    def apply(self, record: Record) -> None:
        self._emit = True
        self.counts["frames"] += 1
        outcome = self.stream.accept(frame_of(record))
        if outcome.gap is not None:
            outcome.gap.last_frame_at = self.last_at.get(record.connection_id)
            self._gaps.append(("gap", _gap_values(self.gatherer_id, outcome.gap)))
        for gap in outcome.recovered:
            self._gaps.append(("recovered", _gap_values(self.gatherer_id, gap)
                               | {"at": record.received_at}))
        parsed = outcome.parsed
        if parsed.type in LIFECYCLE and parsed.reason is None and self.registry is not None:
            self._lifecycle.append((parsed.type, parsed.message["msg"], record.received_at))
        self._observe(record, outcome)

    def _observe(self, record: Record, outcome) -> None:
        parsed, conn = outcome.parsed, record.connection_id
        self.last_at[conn] = record.received_at
        if parsed.reason is not None:
            return
        if parsed.type == "subscribed":
            self.channels[(conn, parsed.body["sid"])] = parsed.body["channel"]
        elif parsed.type in CHANNEL_OF and parsed.sid is not None:
            self.channels.setdefault((conn, parsed.sid), CHANNEL_OF[parsed.type])

    def continue_from(self, last_seq: Iterable[tuple[str, int, int]]) -> None:
        """The exact seq state a checkpoint recorded (it wins over what warm-up saw)."""
        self.stream.last_seq.update({(conn, sid): seq for conn, sid, seq in last_seq})

    async def close(self) -> dict:
        """Commits everything applied; returns the counts (rows: inserted per table)."""
        await self.writers.close()
        async with await psycopg.AsyncConnection.connect(self.ts_dsn) as conn:
            async with conn.cursor() as cur:
                added = 0
                for values in self._quarantine:
                    await cur.execute(QUARANTINE, values)
                    added += cur.rowcount
                self.counts["quarantined"] = added
                for kind, values in self._gaps:
                    await cur.execute(GAP if kind == "gap" else RECOVERED, values)
                    self.counts["gaps"] += cur.rowcount if kind == "gap" else 0
        for kind, msg, at in self._lifecycle:
            await self.registry.apply_frame(kind, msg, at)
        self.counts["lifecycle"] = len(self._lifecycle)
        tables = self.writers.stats()["tables"]
        self.counts["rows"] = {table: s["inserted"] for table, s in tables.items()
                               if table != "quarantine"}
        self.counts["quarantined"] += sum(s["quarantined"] for s in tables.values())
        self.counts["rows_added"] = sum(self.counts["rows"].values())
        return self.counts

    def _sink(self, table: str, row: tuple) -> None:
        if not self._emit:
            return
        if table == "quarantine":
            self._quarantine.append(dict(zip(("gatherer_id", "connection_id", "received_at",
                                              "reason", "raw"), row)))
        else:
            self.writers.put(table, row)


def _gap_values(gatherer_id: str, gap) -> dict:
    return dict(zip(GAP_COLUMNS, gap_rows.row(gatherer_id, gap)))


async def apply_all(applier: Applier, records: Iterable[Record],
                    in_window: Callable[[Record], bool]) -> dict:
    """Warms on the records before the window, applies those in it, commits."""
    await applier.start()
    for number, record in enumerate(records, 1):
        (applier.apply if in_window(record) else applier.warm)(record)
        if number % 5000 == 0:  # let the writers drain: memory stays bounded
            await asyncio.sleep(0)
            while applier.writers.stats()["queued"] > BACKLOG:
                await asyncio.sleep(0.05)
    return await applier.close()
