"""`kstore gather --gatherer g1`: one gatherer process, from exchange to committed rows.

Wiring: registry (REST → rel) decides which order books to subscribe; one WebSocket connection
feeds the stream (sequence checks, rows, quarantine); writers commit the rows to `ts`; gaps go
to feed_gaps; REST books are polled on a budget. On SIGTERM/SIGINT or at the end of --duration
it stops reading, flushes every buffer, commits and returns: no received frame is lost. The
run's start and clean stop are rows in `ts` (gatherer.runs), which let the exporter close the
current window once every gatherer has stopped and been merged.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import timedelta

import psycopg

from kstore import roles, topology
from kstore.gatherer import runs
from kstore.gatherer.connection import Connection
from kstore.gatherer.gaps import GapLog
from kstore.gatherer.registry import Registry
from kstore.gatherer.rest import ExchangeError, RestClient
from kstore.gatherer.snapshots import snapshot_loop
from kstore.gatherer.stream import Outcome, Stream
from kstore.gatherer.writer import Writers
from kstore.settings import Settings, SettingsError

log = logging.getLogger("kstore.gather")
WRITER = roles.GATHERER_WRITER
SETTLING = frozenset({"determined", "settled", "deactivated"})


def _dsn(settings: Settings, name: str) -> str:
    return topology.dsn_for(settings, name, WRITER)


class Gatherer:
    def __init__(self, settings: Settings, gatherer_id: str):
        if gatherer_id not in settings.gatherers:
            raise SettingsError(f"unknown gatherer {gatherer_id!r} (configured: "
                                f"{', '.join(settings.gatherers)})")
        g = settings.gather
        self.settings, self.gatherer_id = settings, gatherer_id
        ts_dsn = self.ts_dsn = _dsn(settings, f"{gatherer_id}_ts")
        self.writers = Writers(ts_dsn, g.batch_rows, g.batch_delay, g.pool_size,
                               g.queue_warn_rows, gatherer_id=gatherer_id)
        self.gaps = GapLog(ts_dsn, gatherer_id)
        self.rest = RestClient(settings.kalshi, g.rest_rate)
        self.registry = Registry(_dsn(settings, f"{gatherer_id}_rel"), self.rest, gatherer_id)
        self.stream = Stream(gatherer_id, self.writers.put, self._markets_of,
                             timedelta(seconds=settings.gather.time_tolerance))
        self.connection = Connection(settings.kalshi, g, self.stream, self._on_outcome,
                                     self.registry.subscribable)
        self.tasks: set[asyncio.Task] = set()

    def _markets_of(self, connection_id: str, sid: int) -> set[str]:
        return self.connection.markets_of(connection_id, sid)

    async def run(self, duration: float | None = None) -> dict:
        stop = asyncio.Event()
        _on_signals(stop)
        await self.writers.start()
        await self.gaps.start()
        run_id = await runs.begin(self.ts_dsn)
        helpers: list[asyncio.Task] = []
        try:
            await self.registry.load()
            helpers = [asyncio.create_task(loop) for loop in (
                self._status_loop(stop), self._registry_loop(stop),
                snapshot_loop(self.rest, self.registry.subscribable, self.stream.sink,
                              self.gatherer_id, self.settings.gather.snapshot_interval, stop))]
            if duration is not None:
                helpers.append(asyncio.create_task(_stop_after(stop, duration)))
            await self.connection.run(stop)
        finally:
            stop.set()
            for task in helpers:  # REST retries must not hold up the flush
                task.cancel()
            await asyncio.gather(*helpers, *self.tasks, return_exceptions=True)
            await self.writers.close()
            await runs.stop(self.ts_dsn, run_id)  # every row of the run is committed by now
            await self.gaps.close()
            await self.rest.close()
        return self.summary()

    async def _on_outcome(self, connection: Connection, session, outcome: Outcome) -> None:
        if outcome.gap is not None:
            self.gaps.detected(outcome.gap)
            await connection.request_snapshots(session, outcome.gap.sid, outcome.gap.pending)
        for gap in outcome.recovered:
            self.gaps.recovered(gap, "get_snapshot")
        if outcome.parsed.type == "subscribed" and connection.orphans:
            for gap in connection.orphans:
                self.gaps.recovered(gap, "resubscribe")
            connection.orphans = []
        handler = LIFECYCLE.get(outcome.parsed.type)
        if handler is not None and outcome.parsed.reason is None:
            self._spawn(handler(self, outcome.parsed.body))

    async def _market_changed(self, body: dict) -> None:
        ticker, kind = body["market_ticker"], body["event_type"]
        if kind == "created":
            await self.connection.add_markets([ticker])
        await self.registry.fetch_market(ticker)
        if kind in SETTLING and ticker not in self.registry.subscribable():
            await self.connection.remove_markets([ticker])

    async def _event_changed(self, body: dict) -> None:
        await self.registry.fetch_event(body["event_ticker"])

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _registry_loop(self, stop: asyncio.Event) -> None:
        """Incremental refreshes; an unreachable exchange or database is retried next round."""
        while not await _wait(stop, self.settings.gather.registry_interval):
            try:
                await self.registry.refresh()
            except (ExchangeError, psycopg.OperationalError) as exc:
                log.warning("gather: registry refresh failed: %s", exc)

    async def _status_loop(self, stop: asyncio.Event) -> None:
        previous, started = self.writers.stats(), time.monotonic()
        while not await _wait(stop, self.settings.gather.status_interval):
            now = self.writers.stats()
            elapsed, started = time.monotonic() - started, time.monotonic()
            log.info("%s", status_line(self.gatherer_id, previous, now, elapsed, self.stream,
                                       self.gaps))
            previous = now

    def summary(self) -> dict:
        return {"gatherer": self.gatherer_id, "stream": dict(self.stream.counts),
                "gaps": dict(self.gaps.counts), "writers": self.writers.stats(),
                "connects": self.connection.connects, "rest_requests": self.rest.requests}


LIFECYCLE = {
    "market_lifecycle_v2": Gatherer._market_changed,
    "event_lifecycle": Gatherer._event_changed,
}


def status_line(gid: str, before: dict, after: dict, elapsed: float, stream: Stream,
                gaps: GapLog) -> str:
    rates = []
    for table in (name for name in after.get("tables", {}) if name != "quarantine"):
        rows = _committed(after, table) - _committed(before, table)
        rates.append(f"{table.replace('orderbook_', 'ob_')} {rows / max(elapsed, 1e-9):.0f}/s")
    queue = sum(t.get("queued", 0) for t in after.get("tables", {}).values())
    return (f"{gid}: {', '.join(rates)} | queue {queue} | gaps {gaps.counts['detected']} "
            f"({gaps.open} open) | quarantined {stream.counts['quarantined']} | "
            f"duplicates {stream.counts['duplicates']}")


def _committed(stats: dict, table: str) -> int:
    return stats.get("tables", {}).get(table, {}).get("committed", 0)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True when stop was set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
        return True
    except asyncio.TimeoutError:
        return False


async def _stop_after(stop: asyncio.Event, seconds: float) -> None:
    await _wait(stop, seconds)
    stop.set()


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def run(settings: Settings, gatherer_id: str, duration: float | None = None) -> dict:
    return asyncio.run(Gatherer(settings, gatherer_id).run(duration))
