"""Feed gaps as rows: recorded when detected, marked when resumed and recovered, never blocking
the reader, never dying.

Gap events (seq jumps from the stream, breaks from kstore.gatherer.breaks) are queued and
written in order by one task on its own connection, so a gap's recovery is always written after
the gap itself. A gap whose connection died before recovery is recovered by the resubscription
of the next connection (`recovery = 'resubscribe'`). Any failure (connection lost, a row the
database rejects, a trigger raising, a revoked privilege) is retried with backoff for as long
as the gatherer runs, logged once per streak and counted (`counts['failures']`, in the status
line); the other tables are written by their own writers meanwhile. close(timeout) writes what
it can within the bound and reports how many events were left unwritten.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

import psycopg

from kstore.gatherer.retry import Backoff, first_line

log = logging.getLogger("kstore.gather")

INSERT = """
insert into kstore.feed_gaps (gatherer_id, connection_id, sid, channel, expected_seq,
    received_seq, detected_at, cause, market_ticker, last_frame_at, resumed_at)
values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
returning gap_id
"""
RECOVER = "update kstore.feed_gaps set recovered_at = %s, recovery = %s where gap_id = %s"
RESUME = "update kstore.feed_gaps set resumed_at = %s where gap_id = %s"
STATEMENT_TIMEOUT = "10s"  # a database that stops answering fails the write: it is retried


class GapLog:
    def __init__(self, dsn: str, gatherer_id: str):
        self.dsn, self.gatherer_id = dsn, gatherer_id
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.counts = {"detected": 0, "recovered": 0, "failures": 0}

    def detected(self, gap) -> None:
        """A seq jump (stream.Gap) or a break (breaks.Break)."""
        self.counts["detected"] += 1
        self.queue.put_nowait(("detected", gap, None))

    def resumed(self, gap, at: datetime) -> None:
        self.queue.put_nowait(("resumed", gap, at))

    def recovered(self, gap, how: str) -> None:
        self.counts["recovered"] += 1
        self.queue.put_nowait(("recovered", gap, how))

    @property
    def open(self) -> int:
        return self.counts["detected"] - self.counts["recovered"]

    @property
    def unwritten(self) -> int:
        return self.queue.qsize()

    async def start(self) -> None:
        self.task = asyncio.create_task(self._drain(), name="gap-log")

    async def close(self, timeout: float | None = None) -> int:
        """Writes the queued events within `timeout` seconds; returns how many were not."""
        left = 0
        try:
            await asyncio.wait_for(self.queue.join(), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            left = self.unwritten + 1  # the queue's and the one being retried
            log.error("gather: %d feed_gaps events not written when the shutdown bound ran out",
                      left)
        if self.task is not None:
            self.task.cancel()
        return left

    async def _drain(self) -> None:
        conn, backoff, streak = None, Backoff(first=0.2, ceiling=5.0), None
        while True:
            event = await self.queue.get()
            while True:
                try:
                    conn = conn if conn is not None and not conn.closed else await self._connect()
                    await self._write(conn, *event)
                    backoff.reset()
                    streak = None
                    break
                except Exception as exc:  # noqa: BLE001 -- every class is retried (decision 0022)
                    self.counts["failures"] += 1
                    streak = _log_once(streak, exc)
                    conn = await _discard(conn)
                    await backoff.sleep()
            self.queue.task_done()

    async def _connect(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, connect_timeout=10, application_name="kstore-gap-log",
            options=f"-c statement_timeout={STATEMENT_TIMEOUT}")

    async def _write(self, conn, kind: str, gap, arg) -> None:
        if kind == "detected":
            cursor = await conn.execute(INSERT, row(self.gatherer_id, gap))
            gap.gap_id = (await cursor.fetchone())[0]
        elif gap.gap_id is None:
            return  # its insert never succeeded: nothing to update
        elif kind == "resumed":
            await conn.execute(RESUME, (arg, gap.gap_id))
        else:
            await conn.execute(RECOVER, (datetime.now(timezone.utc), arg, gap.gap_id))


def row(gatherer_id: str, gap) -> tuple:
    """INSERT's values: a seq jump resumes at the frame that showed it (its detection)."""
    cause = getattr(gap, "cause", "seq_jump")
    resumed_at = gap.detected_at if cause == "seq_jump" else None
    return (gatherer_id, gap.connection_id, gap.sid, gap.channel, gap.expected_seq,
            gap.received_seq, gap.detected_at, cause, getattr(gap, "market_ticker", None),
            getattr(gap, "last_frame_at", None), resumed_at)


def _log_once(streak: str | None, exc: Exception) -> str:
    text = f"{type(exc).__name__}: {first_line(exc)}"
    if text != streak:
        log.error("gather: feed_gaps write failed (%s); retrying until it succeeds", text)
    return text


async def _discard(conn):
    if conn is not None:
        try:
            await asyncio.wait_for(conn.close(), 2)
        except Exception:  # noqa: BLE001 -- a broken connection is dropped either way
            pass
    return None
