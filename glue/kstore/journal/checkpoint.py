"""The journal's durable watermark (decision 0036): ops.journal_checkpoints in the `ts` database.

A checkpoint (journal id, seq W, state) promises: every frame of that journal numbered up to W
is written to the journal and every row made from it is committed. The gatherer takes one about
every `flush_interval`: it notes W (the last frame appended, whose rows are already handed to
the writers) and the stream state after it, flushes the journal through W, waits until the
writers hold no row put before that moment (Writers.pending_since), then upserts the row. On a
clean stop the last one is taken after every writer closed, marked `clean`. A restart applies
the frames after W again (kstore.journal.recovery).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

GET = ("select journal_id, seq, received_at, state from ops.journal_checkpoints"
       " where gatherer_id = %s")
PUT = """
insert into ops.journal_checkpoints as c (gatherer_id, journal_id, seq, received_at, state)
values (%s, %s, %s, %s, %s)
on conflict (gatherer_id) do update set journal_id = excluded.journal_id, seq = excluded.seq,
    received_at = excluded.received_at, state = excluded.state, checkpointed_at = now()
"""
BARRIER_POLL = 0.02  # seconds between two looks at the writers' oldest uncommitted row


@dataclass
class Checkpoint:
    journal_id: str
    seq: int
    received_at: datetime | None = None
    state: dict = field(default_factory=dict)


async def read(dsn: str, gatherer_id: str) -> Checkpoint | None:
    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=10) as conn:
        row = await (await conn.execute(GET, [gatherer_id])).fetchone()
    return None if row is None else Checkpoint(*row)


async def write(dsn: str, gatherer_id: str, checkpoint: Checkpoint) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True,
                                                     connect_timeout=10) as conn:
        await conn.execute(PUT, [gatherer_id, checkpoint.journal_id, checkpoint.seq,
                                 checkpoint.received_at, Jsonb(checkpoint.state)])


class Store:
    """Writes one gatherer's checkpoints over one kept connection (made again after a
    failure): a checkpoint a second must not cost a connection a second."""

    def __init__(self, dsn: str, gatherer_id: str):
        self.dsn, self.gatherer_id, self._conn = dsn, gatherer_id, None

    async def put(self, checkpoint: Checkpoint) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, connect_timeout=10,
                    application_name="kstore-journal")
            await self._conn.execute(PUT, [self.gatherer_id, checkpoint.journal_id,
                                           checkpoint.seq, checkpoint.received_at,
                                           Jsonb(checkpoint.state)])
        except psycopg.Error:
            await self.close()
            raise

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


async def settled(writers, mark: float, stop: asyncio.Event | None = None) -> bool:
    """Waits until every row put to `writers` before the time.monotonic() `mark` is committed;
    False when `stop` is set first."""
    while True:
        oldest = writers.pending_since()
        if oldest is None or oldest > mark:
            return True
        if stop is not None and stop.is_set():
            return False
        await asyncio.sleep(BARRIER_POLL)


def stream_state(stream, connections) -> dict:
    """What a recovery continues from: last seq per (connection, sid) of the stream, and the
    channel of each sid of every live session (for the crash's feed_gaps rows)."""
    sessions = {session.connection_id: {str(sid): s.channel for sid, s in session.by_sid.items()}
                for session in (getattr(c, "session", None) for c in connections)
                if session is not None}
    return {"last_seq": [[conn, sid, seq] for (conn, sid), seq in stream.last_seq.items()],
            "sessions": sessions, "at": time.time()}
