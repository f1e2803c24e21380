"""The journal of a running gatherer: recovery at start, the append hook, flushes before every
writer commit and every `flush_interval`, checkpoints, and a clean close (decisions 0035, 0036).

A journal that cannot be written (disk full, permissions) never stops capture: the failure is
logged once per kind and counted (`errors`, in the summary), the rows are still written, and no
checkpoint is taken past frames that were not journaled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import psycopg

from kstore.gatherer import stopping
from kstore.journal import checkpoint, recovery
from kstore.journal.checkpoint import Checkpoint
from kstore.journal.format import EPOCH, ONE_US, journal_dir
from kstore.journal.writer import OFF, Writer, journal_id
from kstore.settings import Settings

log = logging.getLogger("kstore.journal")


class LiveJournal:
    def __init__(self, settings: Settings, gatherer_id: str, ts_dsn: str, rel_dsn: str):
        self.config = settings.gather.journal
        self.tolerance = timedelta(seconds=settings.gather.time_tolerance)
        self.gatherer_id, self.ts_dsn, self.rel_dsn = gatherer_id, ts_dsn, rel_dsn
        self.directory = journal_dir(settings, gatherer_id)
        self.writer, self.journal_id, self.recovered = OFF, None, None
        self.store = checkpoint.Store(ts_dsn, gatherer_id)
        self.errors: dict[str, int] = {}
        self.pending = False  # recovery could not run at start (database down)

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    async def open(self) -> recovery.Recovery | None:
        """Recovers what the last run left, then opens a new segment for this run."""
        if not self.enabled:
            return None
        self.journal_id = journal_id(self.directory)
        try:
            self.recovered = await self._recover()
            next_seq = self.recovered.next_seq
        except psycopg.Error as exc:  # the database is down: capture anyway, recover later
            self._failed("recovery", exc)
            next_seq, self.pending = recovery.next_free(self.directory), True
        self.writer = Writer(self.directory, next_seq, level=self.config.level,
                             frame_bytes=int(self.config.frame_mib * (1 << 20)),
                             sync_always=self.config.fsync == "always")
        return self.recovered

    async def _recover(self, before: int | None = None) -> recovery.Recovery:
        return await recovery.recover(self.directory, self.journal_id, self.gatherer_id,
                                      self.ts_dsn, self.rel_dsn, self.tolerance,
                                      self.config.lookback, before)

    def attach(self, connections, writers) -> None:
        """The hook: every connection appends every frame; each writer commit flushes first."""
        for connection in connections:
            connection.journal = self.writer
        if self.enabled:
            writers.before_write = self._before_write

    async def loop(self, stop: asyncio.Event, writers, state) -> None:
        """Flush and checkpoint every flush_interval until `stop`; a checkpoint that cannot be
        written (database down) is logged, counted and taken again next time."""
        while not await stopping.wait(stop, self.config.flush_interval):
            try:
                await self.checkpoint(writers, state, stop)
            except Exception as exc:  # noqa: BLE001 -- a late watermark only costs replay
                self._failed("checkpoint", exc)

    async def checkpoint(self, writers, state, stop: asyncio.Event | None = None,
                         clean: bool = False) -> bool:
        """Flushes through the last frame appended and, once its rows are committed, records
        it as the watermark; True when recorded."""
        if self.writer is OFF:  # not opened (stopped during recovery): nothing to record
            return False
        if self.pending:  # the last run's tail first: no watermark may pass it unapplied
            self.recovered = await self._recover(before=self.writer.first_seq)
            self.pending = False
            if self.recovered.breaks:
                log.warning("journal: crash of the last run recovered late; its %d breaks are "
                            "not recorded", len(self.recovered.breaks))
        seq, us, mark = self.writer.last_seq, self.writer.last_us, time.monotonic()
        found = state() | {"clean": clean, "run_start": self.writer.first_seq}
        try:
            await self.writer.aflush(sync=self.config.fsync != "never")
        except Exception as exc:  # noqa: BLE001 -- the journal never stops capture
            self._failed("flush", exc)
            return False
        if not await checkpoint.settled(writers, mark, stop):
            return False
        at = None if us is None else EPOCH + us * ONE_US
        await self.store.put(Checkpoint(self.journal_id, seq, at, found))
        return True

    async def close(self, writers, state, clean: bool) -> None:
        """After the writers closed: the last checkpoint (marked clean when every row was
        committed), then the segment is finished and fsynced."""
        if self.writer is OFF:
            return
        try:
            if clean:
                await self.checkpoint(writers, state, clean=True)
            await self.store.close()
        except Exception as exc:  # noqa: BLE001 -- the next start recovers from the last one
            self._failed("checkpoint", exc)
        finally:
            try:
                await asyncio.to_thread(self.writer.close)
            except Exception as exc:  # noqa: BLE001 -- what was flushed is readable
                self._failed("close", exc)

    def stats(self) -> dict:
        if self.writer is OFF:  # disabled, or stopped before it opened
            return {"enabled": self.enabled, "frames": 0}
        return {"enabled": True, "directory": str(self.directory), "frames": self.writer.frames,
                "last_seq": self.writer.last_seq, **self.writer.stats, "errors": self.errors,
                "recovered": (self.recovered.counts or None) if self.recovered else None}

    async def _before_write(self) -> None:
        try:
            await self.writer.aflush()
        except Exception as exc:  # noqa: BLE001 -- the journal never stops capture
            self._failed("flush", exc)

    def _failed(self, what: str, exc: Exception) -> None:
        kind = f"{what}: {type(exc).__name__}"
        if kind not in self.errors:
            log.error("journal: %s failed (%s); capture goes on", what, exc)
        self.errors[kind] = self.errors.get(kind, 0) + 1
