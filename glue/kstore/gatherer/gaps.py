"""Feed gaps as rows: recorded when detected, marked when recovered, never blocking the reader.

Gap events are queued and written in order by one task on its own connection, so a gap's
recovery is always written after the gap itself. A gap whose connection died before recovery
is recovered by the resubscription of the next connection (`recovery = 'resubscribe'`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

import psycopg

from kstore.gatherer.stream import Gap

log = logging.getLogger("kstore.gather")

INSERT = """
insert into kstore.feed_gaps (gatherer_id, connection_id, sid, channel, expected_seq,
    received_seq, detected_at)
values (%s, %s, %s, %s, %s, %s, %s)
returning gap_id
"""
RECOVER = "update kstore.feed_gaps set recovered_at = %s, recovery = %s where gap_id = %s"


class GapLog:
    def __init__(self, dsn: str, gatherer_id: str):
        self.dsn, self.gatherer_id = dsn, gatherer_id
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.counts = {"detected": 0, "recovered": 0}

    def detected(self, gap: Gap) -> None:
        self.counts["detected"] += 1
        self.queue.put_nowait(("detected", gap, None))

    def recovered(self, gap: Gap, how: str) -> None:
        self.counts["recovered"] += 1
        self.queue.put_nowait(("recovered", gap, how))

    @property
    def open(self) -> int:
        return self.counts["detected"] - self.counts["recovered"]

    async def start(self) -> None:
        self.task = asyncio.create_task(self._drain())

    async def close(self) -> None:
        await self.queue.join()
        if self.task is not None:
            self.task.cancel()

    async def _drain(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self._write(*event)
            finally:
                self.queue.task_done()

    async def _write(self, kind: str, gap: Gap, how: str | None) -> None:
        for attempt in range(10):
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    if kind == "detected":
                        cursor = await conn.execute(INSERT, (
                            self.gatherer_id, gap.connection_id, gap.sid, gap.channel,
                            gap.expected_seq, gap.received_seq, gap.detected_at))
                        gap.gap_id = (await cursor.fetchone())[0]
                    elif gap.gap_id is not None:
                        await conn.execute(RECOVER, (datetime.now(timezone.utc), how, gap.gap_id))
                return
            except psycopg.OperationalError as exc:
                log.warning("gather: feed_gaps write failed (%s), retrying", exc)
                await asyncio.sleep(min(5.0, 0.2 * 2 ** attempt))
        log.error("gather: feed gap on sid %s could not be written", gap.sid)
