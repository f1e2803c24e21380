"""The gatherer's batch writers: rows from the WebSocket loop into the local `ts` database.

Contract (DESIGN §3, §5):
- `put()` never waits: it queues the row in memory and returns; reading the socket never waits
  on the database. A backlog above `max_queue` rows is logged loudly and kept, never dropped.
- A write starts when a table has `batch_rows` rows queued or its oldest row is `max_delay`
  old. Writes run in parallel on the table's pool (`pool_size` connections); a write carries
  every row that is ready, up to `batches_per_write` batches in one transaction, so a backlog
  costs fewer round trips and commits instead of growing.
- A row counts as written only after its transaction commits. Rows the database rejects are
  quarantined in that same transaction (kstore.gatherer.batch); any other failure (connection
  lost, server restarting) retries the whole write with backoff: `on conflict do nothing` makes
  a repeat harmless, so nothing is lost or duplicated.
- After `close()` every row put is committed (inserted, already present, or quarantined); with
  a timeout, the rows not confirmed by then are raised in `UnwrittenRows`.

Pools: one per writer the table catalog (decision 0016) names for the tables of the ts database
(orderbook: deltas and snapshots, trades: with quarantine rows, tickers), read once when the
writers are made; feed_gaps has its own writer (GapLog). Call every method from the event
loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import statistics
import time
from collections import deque
from dataclasses import dataclass, field

import psycopg
from psycopg_pool import AsyncConnectionPool

from kstore import catalog
from kstore.copyload import Load
from kstore.gatherer import batch
from kstore.gatherer.rows import TABLE_COLUMNS

log = logging.getLogger(__name__)

GAP_LOG = "gaps"  # the catalog's writer of feed_gaps: kstore.gatherer.gaps.GapLog, no pool here
LATENCY_SAMPLES = 10_000  # put→commit latencies kept per table (the most recent rows)
BACKLOG_WARNING_EVERY = 10.0  # seconds between two backlog warnings of one table


class UnwrittenRows(RuntimeError):
    """close() timed out: `rows` maps each table to the rows not confirmed as committed (some
    may be; putting them again is safe)."""

    def __init__(self, rows: dict[str, list[tuple]]):
        self.rows = rows
        counts = ", ".join(f"{table}: {len(found)}" for table, found in rows.items())
        super().__init__(f"rows not confirmed as committed when close() gave up ({counts})")


@dataclass
class _Lane:
    """One table's queue, the writes it has in flight, and its counters."""

    table: str
    pool: str
    width: int
    rows: deque = field(default_factory=deque)
    put_times: deque = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: dict[int, list[tuple]] = field(default_factory=dict)
    in_flight_since: dict[int, float] = field(default_factory=dict)  # oldest put time per write
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("committed", "inserted", "quarantined", "batches", "failures"), 0))
    warned_at: float = -math.inf


class Writers:
    """Batch writers of one gatherer's time-series database (see the module contract)."""

    def __init__(self, dsn: str, batch_rows: int = 100, max_delay: float = 0.05,
                 pool_size: int = 2, max_queue: int = 100_000, *, batches_per_write: int = 100,
                 gatherer_id: str = "", max_backoff: float = 2.0,
                 pools: dict[str, tuple[str, ...]] | None = None):
        """`pools` maps each pool to its tables; by default the table catalog's routing, read
        here from the database at `dsn` (see routing)."""
        self.pools = routing(dsn) if pools is None else pools
        self.dsn, self.batch_rows, self.max_delay = dsn, batch_rows, max_delay
        self.pool_size, self.max_queue, self.gatherer_id = pool_size, max_queue, gatherer_id
        self.rows_per_write = batch_rows * batches_per_write
        self.max_backoff = max_backoff
        self._lanes = {table: _Lane(table, pool, len(TABLE_COLUMNS[table]))
                       for pool, tables in self.pools.items() for table in tables}
        self._loads: dict[str, Load] = {}  # filled by the first connection of each pool
        self._pools: dict[str, AsyncConnectionPool] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._dispatchers: list[asyncio.Task] = []
        self._writes: set[asyncio.Task] = set()
        self._closing = False
        self.before_write = None  # awaited before each write (the journal's flush)

    async def start(self, *, wait: float | None = None) -> None:
        """Opens the pools and starts writing. Connections are made in the background (rows
        queue meanwhile); with `wait`, returns only once every pool is connected, or raises
        psycopg_pool.PoolTimeout after that many seconds. Each connection reads the tables'
        column types (once per writer) and creates its staging tables before its first write."""
        for name, tables in self.pools.items():
            pool = AsyncConnectionPool(
                self.dsn, min_size=self.pool_size, max_size=self.pool_size, open=False,
                name=f"kstore-writer-{name}",
                configure=lambda conn, t=tables: batch.prepare(conn, t, self._loads),
                kwargs={"autocommit": True, "application_name": f"kstore-writer-{name}"},
            )
            self._pools[name], self._slots[name] = pool, asyncio.Semaphore(self.pool_size)
            await pool.open(wait=False)
        if wait is not None:
            await asyncio.gather(*(pool.wait(wait) for pool in self._pools.values()))
        self._dispatchers = [asyncio.create_task(self._dispatch(lane), name=f"writer-{table}")
                             for table, lane in self._lanes.items()]
        for task in self._dispatchers:
            task.add_done_callback(_dispatcher_ended)

    def put(self, table: str, row: tuple) -> None:
        """Queues `row` (a tuple in TABLE_COLUMNS[table] order) and returns at once. A row of
        the wrong shape goes to quarantine; an unknown table or a closed writer raises."""
        lane = self._lanes.get(table)
        if lane is None:
            raise ValueError(f"unknown table {table!r}; writers exist for {sorted(self._lanes)}")
        if self._closing:
            raise RuntimeError("Writers.put() after close(): the row would never be written")
        if not isinstance(row, (tuple, list)) or len(row) != lane.width:
            reason = f"row does not have the {lane.width} columns of {table}"
            row, lane = batch.quarantine_row(table, row, reason, self.gatherer_id), \
                self._lanes["quarantine"]
        lane.rows.append(row)
        lane.put_times.append(time.monotonic())
        depth = len(lane.rows)
        if depth == 1 or depth == self.batch_rows:
            lane.wake.set()
        elif depth > self.max_queue:
            self._warn_backlog(lane)

    async def close(self, timeout: float | None = None) -> None:
        """Writes every queued row, waits for the writes in flight, closes the pools. Returns
        when every row put is committed; after `timeout` seconds raises UnwrittenRows."""
        if not self._pools:
            await self.start()
        self._closing = True
        for lane in self._lanes.values():
            lane.wake.set()
        try:
            await asyncio.wait_for(self._drain(), timeout)
        except TimeoutError:
            raise UnwrittenRows(self._unconfirmed()) from None
        finally:
            for pool in self._pools.values():
                await pool.close()

    def dead(self) -> list[str]:
        """The tables whose dispatcher ended before close(): their rows are no longer written."""
        return [task.get_name() for task in self._dispatchers
                if task.done() and not self._closing]

    def pending_since(self) -> float | None:
        """The put time (time.monotonic) of the oldest row not yet committed, None when every
        row put is: rows put up to a moment are all committed once this is later (or None)."""
        times = [lane.put_times[0] for lane in self._lanes.values() if lane.put_times]
        times += [t for lane in self._lanes.values() for t in lane.in_flight_since.values()]
        return min(times, default=None)

    def stats(self) -> dict:
        """Per table: rows queued, in flight, committed (= inserted + already present +
        quarantined), inserted, quarantined, batches (write transactions committed), failures
        (write attempts that failed and were retried) and put→commit latency p50/p99 in ms over
        its most recent rows; and the same totals over all tables."""
        tables = {table: self._lane_stats(lane) for table, lane in self._lanes.items()}
        totals = {key: sum(entry[key] for entry in tables.values())
                  for key in ("queued", "in_flight", "committed", "inserted", "quarantined",
                              "batches", "failures")}
        samples = [value for lane in self._lanes.values() for value in lane.latencies]
        return {"tables": tables, **totals, **_percentiles(samples)}

    async def _dispatch(self, lane: _Lane) -> None:
        """Turns the lane's queue into writes until close() has emptied it: a write starts when
        a batch is full, the oldest row is max_delay old, or on close, as soon as one of the
        pool's connections is free; it takes every ready row, up to rows_per_write."""
        slots = self._slots[lane.pool]
        while True:
            lane.wake.clear()
            wait = self._wait_time(lane)
            if wait is None:
                return
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lane.wake.wait(), None if math.isinf(wait) else wait)
                continue
            await slots.acquire()
            count = min(len(lane.rows), self.rows_per_write)
            rows = [lane.rows.popleft() for _ in range(count)]
            put_times = [lane.put_times.popleft() for _ in range(count)]
            task = asyncio.create_task(self._write(lane, rows, put_times))
            self._writes.add(task)
            task.add_done_callback(lambda done: (slots.release(), self._writes.discard(done)))

    def _wait_time(self, lane: _Lane) -> float | None:
        """Seconds until the lane's next write is due: 0 now, inf when idle, None when closed."""
        if not lane.rows:
            return None if self._closing else math.inf
        if self._closing or len(lane.rows) >= self.batch_rows:
            return 0.0
        return lane.put_times[0] + self.max_delay - time.monotonic()

    async def _write(self, lane: _Lane, rows: list[tuple], put_times: list[float]) -> None:
        """Commits `rows`, retrying any failure that is not a rejected row with backoff, then
        accounts for them. Until then they are listed as in flight (close() reports them)."""
        key = id(rows)
        lane.in_flight[key], lane.in_flight_since[key] = rows, put_times[0]
        if self.before_write is not None:  # write-ahead: the rows' frames are journaled first
            await self.before_write()
        backoff = 0.05
        while True:
            try:
                async with self._pools[lane.pool].connection() as conn:
                    outcome = await batch.write(conn, self._loads[lane.table], rows,
                                                self.gatherer_id)
                break
            except Exception as exc:  # noqa: BLE001 -- every failure is retried, none drops rows
                lane.counts["failures"] += 1
                _log_failure(lane.table, len(rows), exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
        del lane.in_flight[key], lane.in_flight_since[key]
        self._account(lane, outcome, put_times)

    def _account(self, lane: _Lane, outcome: batch.Outcome, put_times: list[float]) -> None:
        committed_at = time.monotonic()
        counts = lane.counts
        counts["committed"] += len(put_times)
        counts["inserted"] += outcome.inserted
        counts["quarantined"] += len(outcome.rejected)
        counts["batches"] += 1
        lane.latencies.extend(committed_at - put for put in put_times)
        for row, reason in outcome.rejected:
            log.warning("%s: row quarantined: %s: %.500r", lane.table, reason, row)

    async def _drain(self) -> None:
        await asyncio.gather(*self._dispatchers)
        while self._writes:
            await asyncio.gather(*self._writes)

    def _unconfirmed(self) -> dict[str, list[tuple]]:
        """Rows queued or in flight, by table, once close() has given up on them."""
        for task in [*self._dispatchers, *self._writes]:
            task.cancel()
        found = {table: [row for rows in lane.in_flight.values() for row in rows]
                 + list(lane.rows) for table, lane in self._lanes.items()}
        return {table: rows for table, rows in found.items() if rows}

    def _warn_backlog(self, lane: _Lane) -> None:
        now = time.monotonic()
        if now - lane.warned_at >= BACKLOG_WARNING_EVERY:
            lane.warned_at = now
            log.warning("%s: %d rows queued (max_queue %d): the database is not keeping up; "
                        "rows are kept in memory, none is dropped",
                        lane.table, len(lane.rows), self.max_queue)

    def _lane_stats(self, lane: _Lane) -> dict:
        in_flight = sum(len(rows) for rows in lane.in_flight.values())
        return {"queued": len(lane.rows), "in_flight": in_flight, **lane.counts,
                **_percentiles(list(lane.latencies))}


def routing(dsn: str) -> dict[str, tuple[str, ...]]:
    """Each writer pool and the tables it writes, from the table catalog of the ts database at
    `dsn`: every table homed there that names a writer, but the gap log's."""
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        tables = catalog.load(conn)
    pools: dict[str, tuple[str, ...]] = {}
    for table in tables:
        if table.here and table.writer not in (None, GAP_LOG):
            pools[table.writer] = (*pools.get(table.writer, ()), table.name)
    return pools


def _log_failure(table: str, rows: int, exc: Exception, backoff: float) -> None:
    """Connection trouble is a warning; anything else (privileges, schema) needs a human."""
    transient = isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))
    lines = str(exc).strip().splitlines()
    log.log(logging.WARNING if transient else logging.ERROR,
            "%s: write of %d rows failed (%s: %s); retrying in %.2fs",
            table, rows, type(exc).__name__, lines[0] if lines else "", backoff)


def _dispatcher_ended(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.critical("writer %s stopped: %r; its rows are reported by close()",
                     task.get_name(), task.exception())


def _percentiles(seconds: list[float]) -> dict[str, float | None]:
    if len(seconds) < 2:
        value = seconds[0] * 1000 if seconds else None
        return {"latency_p50_ms": value, "latency_p99_ms": value}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"latency_p50_ms": cuts[49] * 1000, "latency_p99_ms": cuts[98] * 1000}
