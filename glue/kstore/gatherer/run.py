"""`kstore gather --gatherer g1`: one gatherer process, from exchange to committed rows.

Wiring: registry (REST → rel) decides which order books to subscribe; one WebSocket connection
feeds the stream (sequence checks, rows, quarantine); writers commit the rows to `ts`; gaps go
to feed_gaps; REST books are polled on a budget. On SIGTERM/SIGINT or at the end of --duration
it stops reading, flushes every buffer, commits and returns: no received frame is lost. The
run's start and clean stop are rows in `ts` (gatherer.runs), which let the exporter close the
current window once every gatherer has stopped and been merged.

Decision 0022: no background task dies silently (kstore.gatherer.retry: logged, counted in the
status line, restarted with backoff; one that cannot recover stops the gatherer, which raises
GatherFailed: a non-zero exit for its supervisor). Shutdown is bounded by
`gather.shutdown_timeout`: whatever the databases have not accepted by then is reported and
left, and the CLI process exits even if the event loop itself is wedged
(kstore.gatherer.stopping). The status loop touches `<home>/run/<gatherer>.heartbeat`; `kstore up`
restarts a gatherer whose heartbeat stops.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kstore import metrics, roles, topology
from kstore.budget import Budget
from kstore.gatherer import runs, stopping
from kstore.gatherer.breaks import OpenBreaks
from kstore.gatherer.connection import Connection
from kstore.gatherer.gaps import GapLog
from kstore.gatherer.listings import Listings
from kstore.gatherer.registry import Registry
from kstore.gatherer.rest import ExchangeError, RestClient
from kstore.gatherer.retry import Backoff, Health, first_line, supervise
from kstore.gatherer.snapshots import snapshot_loop
from kstore.gatherer.stream import Outcome, Stream
from kstore.gatherer.subscriptions import Shards
from kstore.gatherer.writer import UnwrittenRows, Writers
from kstore.journal import checkpoint
from kstore.journal.live import LiveJournal
from kstore.selection import SelectionError, check_limits
from kstore.settings import Settings, SettingsError

log = logging.getLogger("kstore.gather")
WRITER = roles.GATHERER_WRITER
REGISTRY_WAIT = 5.0  # seconds the first connect waits for the registry's full load at most


def _dsn(settings: Settings, name: str) -> str:
    return topology.dsn_for(settings, name, WRITER)


def heartbeat_path(settings: Settings, gatherer_id: str) -> Path:
    """The file a running gatherer touches every status interval (kstore up watches it)."""
    return settings.home / "run" / f"{gatherer_id}.heartbeat"


class GatherFailed(RuntimeError):
    """A component could not recover, or shutdown left data unwritten: exit non-zero."""

    def __init__(self, reason: str, summary: dict):
        super().__init__(reason)
        self.summary = summary


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
        self.breaks = OpenBreaks(self.gaps)
        self.rest = RestClient(settings.kalshi, Budget(settings.rest.rate()))
        self.shards = Shards(g)
        self.registry = Registry(_dsn(settings, f"{gatherer_id}_rel"), self.rest, gatherer_id,
                                 g.selection, self.shards.update)
        self.stream = Stream(gatherer_id, self.writers.put, self._markets_of,
                             timedelta(seconds=settings.gather.time_tolerance))
        self.connections = [
            Connection(settings.kalshi, g, self.stream, self._on_outcome,
                       functools.partial(self.shards.markets_for, index), self.breaks,
                       self._spawn, plan=self.shards, index=index)
            for index in range(g.connections)]
        self.connection = self.connections[0]
        self.listings = Listings(self.registry, self.breaks, self.connection, self._spawn)
        self.shards.connections = self.connections
        self.journal = LiveJournal(settings, gatherer_id, ts_dsn,
                                   _dsn(settings, f"{gatherer_id}_rel"))
        self.tasks: set[asyncio.Task] = set()
        self.health = Health()
        self.heartbeat = heartbeat_path(settings, gatherer_id)
        self.hard_exit = False  # the CLI process: exit even when the event loop is wedged
        self.writers_clean = True
        self.signalled = False  # a SIGTERM/SIGINT bounds the shutdown

    def _markets_of(self, connection_id: str, sid: int) -> set[str]:
        for connection in self.connections:
            found = connection.markets_of(connection_id, sid)
            if found:
                return found
        return set()

    async def run(self, duration: float | None = None) -> dict:
        stop = asyncio.Event()
        self.health.stop = stop
        previous = stopping.on_signals(stop, self._signalled)
        await self.writers.start()
        await self.gaps.start()
        metrics.watch_gatherer(self)
        helpers: list[asyncio.Task] = []
        run_id = None
        try:  # a database or exchange that does not answer at start cannot delay a SIGTERM
            started = await stopping.unless_stopped(
                stop, asyncio.gather(self._open_journal(), runs.begin(self.ts_dsn)))
            run_id = started[1] if started else None
            self.shards.start(await stopping.unless_stopped(stop, self.registry.prime()) or [])
            if not stop.is_set():
                helpers = self._helpers(stop, duration)
                await stopping.unless_stopped(stop, stopping.within_quietly(
                    self.registry.loaded.wait(), REGISTRY_WAIT))
                await asyncio.gather(*(c.run(stop) for c in self.connections))
        finally:
            stop.set()
            clean = await self._shutdown(helpers, run_id)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        summary = self.summary()
        if self.health.failed or not clean:
            raise GatherFailed(self.health.failed or "shutdown: data left unwritten within "
                               f"{self.settings.gather.shutdown_timeout:g} s", summary)
        return summary

    def _helpers(self, stop: asyncio.Event, duration: float | None) -> list[asyncio.Task]:
        g = self.settings.gather
        books = lambda: snapshot_loop(self.rest, self.registry.subscribable,  # noqa: E731
                                      self.stream.sink, self.gatherer_id, g.snapshot_interval,
                                      stop, self.health.errors, self.settings.rest.book_batch,
                                      self.settings.rest.book_share)
        loops = [self._status_loop(stop), supervise("registry", lambda: self._registry_loop(stop),
                                                    self.health, stop),
                 supervise("rest books", lambda: self._after_load(books), self.health, stop)]
        if self.journal.enabled:
            loops.append(supervise("journal", lambda: self.journal.loop(
                stop, self.writers, self._journal_state), self.health, stop))
        if duration is not None:  # the capture's duration: from the registry's first load on
            loops.append(self._after_load(lambda: stopping.stop_after(stop, duration)))
        return [asyncio.create_task(loop) for loop in loops]

    async def _after_load(self, factory) -> None:
        """Runs `factory()` once the registry's first load is done (or REGISTRY_WAIT passed)."""
        await stopping.within_quietly(self.registry.loaded.wait(), REGISTRY_WAIT)
        await factory()

    async def _shutdown(self, helpers: list[asyncio.Task], run_id: int | None) -> bool:
        """Flush and commit, within gather.shutdown_timeout after a signal or a failure (the
        end of --duration waits for every row); True when nothing was left unwritten."""
        deadline = None
        if self.signalled or self.health.failed:  # the hard exit comes at the bound
            deadline = time.monotonic() + max(0.5, self.settings.gather.shutdown_timeout - 1)
            self._arm_hard_exit()
        left = lambda share=1.0, spare=0.0: (  # noqa: E731
            None if deadline is None else max(0.1, (deadline - time.monotonic()) * share - spare))
        for task in [*helpers, *self.tasks]:  # REST retries must not hold up the flush
            task.cancel()
        await stopping.within("background tasks", asyncio.gather(*helpers, *self.tasks,
                                                                 return_exceptions=True), 2)
        clean = await stopping.within("writers", self._close_writers(left(0.8)), left())
        clean = clean and self.writers_clean
        if clean:  # the run's stop promises every row of it is committed
            clean = await stopping.within("capture run", runs.stop(self.ts_dsn, run_id), left())
        await stopping.within("journal", self.journal.close(self.writers, self._journal_state,
                                                            clean), left())
        unwritten = await self.gaps.close(left(spare=0.5))
        await stopping.within("REST client", self.rest.close(), left())
        return clean and unwritten == 0

    async def _close_writers(self, timeout: float) -> None:
        try:
            await self.writers.close(timeout)
        except UnwrittenRows as exc:
            self.writers_clean = False
            log.error("gather: %s", exc)

    async def _open_journal(self) -> None:
        """Crash recovery (kstore.journal.recovery), then the hook into capture."""
        recovered = await self.journal.open()
        self.journal.attach(self.connections, self.writers)
        if recovered is not None and recovered.breaks:
            self.breaks.add(recovered.breaks, reconnect=True)

    def _journal_state(self) -> dict:
        return checkpoint.stream_state(self.stream, self.connections)

    def _signalled(self) -> None:
        self.signalled = True
        self._arm_hard_exit()

    def _arm_hard_exit(self) -> None:
        """In the CLI process, a timer thread ends it when the bound runs out, whatever the
        event loop is doing."""
        if self.hard_exit and not getattr(self, "_timer", None):
            bound = self.settings.gather.shutdown_timeout
            self._timer = threading.Timer(bound, stopping.hard_exit, [bound])
            self._timer.daemon = True
            self._timer.start()

    async def _on_outcome(self, connection: Connection, session, outcome: Outcome) -> None:
        if outcome.gap is not None:
            outcome.gap.last_frame_at = session.last_frame_at
            self.gaps.detected(outcome.gap)
            await connection.request_snapshots(session, outcome.gap.sid, outcome.gap.pending)
        for gap in outcome.recovered:
            self.gaps.recovered(gap, "get_snapshot")
        if outcome.parsed.type == "subscribed" and outcome.parsed.reason is None:
            self.listings.subscribed(outcome.parsed.message)
        if outcome.parsed.type == "subscribed" and connection.orphans:
            for gap in connection.orphans:
                self.gaps.recovered(gap, "resubscribe")
            connection.orphans = []
        handler = LIFECYCLE.get(outcome.parsed.type)
        if handler is not None and outcome.parsed.reason is None:
            self._spawn(handler(self, outcome.parsed, datetime.now(timezone.utc)))

    async def _market_changed(self, parsed, received_at: datetime) -> None:
        """The frame's own version first (decision 0024), then REST confirms and completes it;
        the registry adds the market to the subscriptions, or removes it, when it enters or
        leaves the selection (kstore.gatherer.subscriptions)."""
        await self.registry.apply_frame(parsed.type, parsed.message["msg"], received_at)
        await self.registry.fetch_market(parsed.body["market_ticker"])

    async def _event_changed(self, parsed, received_at: datetime) -> None:
        await self.registry.apply_frame(parsed.type, parsed.message["msg"], received_at)
        await self.registry.fetch_event(parsed.body["event_ticker"])

    def _spawn(self, coroutine) -> asyncio.Task:
        """A background task (lifecycle fetches, command retries) whose failure is logged and
        counted, never lost."""
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.health.errors["tasks"] += 1
            log.error("gather: background task failed (%s: %s)", type(exc).__name__,
                      first_line(exc))

    async def _registry_loop(self, stop: asyncio.Event) -> None:
        """Incremental refreshes; any failure is logged once per streak, counted, and retried
        with backoff (never later than the next round)."""
        interval, backoff, last = self.settings.gather.registry_interval, Backoff(), None
        wait = 0.0
        while not await stopping.wait(stop, wait):
            try:
                await self._load_or_refresh()
                wait, last = interval, None
                backoff.reset()
            except Exception as exc:  # noqa: BLE001 -- the registry must outlive any failure
                self.health.errors["registry"] += 1
                text = f"{type(exc).__name__}: {first_line(exc)}"
                if text != last:
                    log.warning("gather: registry refresh failed (%s); retrying", text)
                wait, last = min(interval, backoff.next()), text

    async def _load_or_refresh(self) -> None:
        """The full load first (then the selection must fit the limits: else the gatherer
        stops with the reason), incremental refreshes after it."""
        if self.registry.loaded.is_set():
            return await self.registry.refresh()
        try:
            await self.registry.load()
            check_limits(len(self.registry.subscribable()), self.settings.gather)
        except (SelectionError, ExchangeError) as exc:  # refused for good: auth, bad filter
            self.health.fail(str(exc))

    async def _status_loop(self, stop: asyncio.Event) -> None:
        previous, started = self.writers.stats(), time.monotonic()
        self._beat()
        while not await stopping.wait(stop, self.settings.gather.status_interval):
            now = self.writers.stats()
            elapsed, started = time.monotonic() - started, time.monotonic()
            log.info("%s", status_line(self.gatherer_id, previous, now, elapsed, self.stream,
                                       self.gaps, self.health))
            previous = now
            self._check_components()
            self._beat()

    def _check_components(self) -> None:
        dead = self.writers.dead()
        if dead:
            self.health.fail(f"writer {', '.join(dead)} stopped")
        task = self.gaps.task
        if task is not None and task.done():
            self.health.fail("the gap log stopped")

    def _beat(self) -> None:
        """The heartbeat: pid and frames read, rewritten (mtime) while the loop runs."""
        try:
            self.heartbeat.parent.mkdir(parents=True, exist_ok=True)
            self.heartbeat.write_text(f"{os.getpid()} {self.stream.counts['frames']}\n")
        except OSError as exc:
            self.health.errors["heartbeat"] += 1
            log.warning("gather: heartbeat %s not written: %s", self.heartbeat, exc)

    def summary(self) -> dict:
        return {"gatherer": self.gatherer_id, "stream": dict(self.stream.counts),
                "gaps": dict(self.gaps.counts), "writers": self.writers.stats(),
                "connects": sum(c.connects for c in self.connections),
                "rest_requests": self.rest.requests,
                "rest_throttled": self.rest.budget.counts["throttled"],
                "selection": {"books": len(self.shards.of), "load": self.registry.load_stats,
                              **self.shards.counts},
                "errors": dict(self.health.errors), "failed": self.health.failed,
                "journal": self.journal.stats()}


LIFECYCLE = {
    "market_lifecycle_v2": Gatherer._market_changed,
    "event_lifecycle": Gatherer._event_changed,
}


def status_line(gid: str, before: dict, after: dict, elapsed: float, stream: Stream,
                gaps: GapLog, health: Health | None = None) -> str:
    rates = []
    for table in (name for name in after.get("tables", {}) if name != "quarantine"):
        rows = _committed(after, table) - _committed(before, table)
        rates.append(f"{table.replace('orderbook_', 'ob_')} {rows / max(elapsed, 1e-9):.0f}/s")
    queue = sum(t.get("queued", 0) for t in after.get("tables", {}).values())
    return (f"{gid}: {', '.join(rates)} | queue {queue} | gaps {gaps.counts['detected']} "
            f"({gaps.open} open) | quarantined {stream.counts['quarantined']} | "
            f"duplicates {stream.counts['duplicates']} | errors: write retries "
            f"{after.get('failures', 0)}, gap log {gaps.counts.get('failures', 0)}"
            f"{', ' + health.summary() if health and health.errors else ''}")


def _committed(stats: dict, table: str) -> int:
    return stats.get("tables", {}).get(table, {}).get("committed", 0)


def run(settings: Settings, gatherer_id: str, duration: float | None = None) -> dict:
    """The CLI's gatherer: raises GatherFailed (exit non-zero) when it could not recover."""
    gatherer = Gatherer(settings, gatherer_id)
    gatherer.hard_exit = True
    return asyncio.run(gatherer.run(duration))
