"""`kstore dedup [--once]`: merge every gatherer into production, exactly once, within seconds.

The merging is SQL (`ops.pull`, decision 0012); this module schedules it, for the tables the
table catalog (decision 0016) says are merged: `pull` by cursor, `recent` by
`ops.pull_<table>(gatherer)`, read once from production. Each gatherer has its
own loop and its own production connection, so a dead or slow gatherer never stalls the others
(it is retried with backoff). A loop pulls page after page while a table is behind (catch-up)
and every `interval` seconds once all are caught up (steady). After each committed page it
acknowledges to the gatherer how far its rows are safe in production (`ops.dedup_ack`), which
the gatherer's guarded retention reads. If production is down nothing moves: the pull's
transaction (rows + cursor) simply did not happen, and the loop retries.
Connections: one to production per gatherer (+1 for status), and per gatherer database one
postgres_fdw connection plus one acknowledgement connection to `ts`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from kstore import catalog, metrics, roles, topology
from kstore.settings import Settings, SettingsError

log = logging.getLogger("kstore.dedup")

DEDUP, ACK = roles.DEDUP, roles.DEDUP_ACK
PULL = "select rows_read, rows_inserted, next_xid, caught_up from ops.pull(%s, %s, %s)"
ACK_SQL = """
insert into ops.dedup_ack (table_name, acked_xid, acked_through, acked_at)
values (%s, %s::xid8, %s::timestamptz, now())
on conflict (table_name) do update set acked_xid = excluded.acked_xid,
    acked_through = excluded.acked_through, acked_at = excluded.acked_at
"""


def attach(settings: Settings, production: topology.Database) -> list[str]:
    """Create or refresh the foreign servers, mappings and tables of every configured gatherer."""
    with psycopg.connect(production.dsn_for(), autocommit=True) as conn:
        for gid in settings.gatherers:
            ts = _address(topology.database(settings, f"{gid}_ts"))
            rel = _address(topology.database(settings, f"{gid}_rel"))
            conn.execute(
                "select ops.attach_gatherer(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [gid, *ts, *rel, roles.GATHERER_READER, settings.reader_password.get(gid)])
            if settings.fdw.sslmode or settings.fdw.sslrootcert:
                conn.execute("select ops.gatherer_tls(%s, %s, %s)",
                             [gid, settings.fdw.sslmode, settings.fdw.sslrootcert])
    return list(settings.gatherers)


def _address(db: topology.Database) -> tuple[str, int, str]:
    params = conninfo_to_dict(db.dsn_for())
    return params.get("host", "127.0.0.1"), int(params.get("port", 5432)), params["dbname"]


@dataclass
class GathererState:
    gatherer_id: str
    failures: int = 0
    last_error: str | None = None
    caught_up: dict[str, bool] = field(default_factory=dict)
    pulled: int = 0
    window: dict[str, list[int]] = field(default_factory=dict)  # table: [read, inserted]
    logged_at: float = field(default_factory=time.monotonic)

    def count(self, table: str, read: int, inserted: int) -> None:
        totals = self.window.setdefault(table, [0, 0])
        totals[0] += read
        totals[1] += inserted

    def report(self, every: float = 10.0) -> None:
        """Every `every` seconds, one log line: merged rows/s and duplicate rate per table."""
        elapsed = time.monotonic() - self.logged_at
        if elapsed < every:
            return
        parts = [f"{table} {inserted / elapsed:.0f}/s dup {1 - inserted / read:.0%}"
                 for table, (read, inserted) in sorted(self.window.items()) if read]
        behind = [table for table, done in self.caught_up.items() if not done]
        log.info("dedup %s: %s | %s", self.gatherer_id, ", ".join(parts) or "idle",
                 f"catching up: {', '.join(behind)}" if behind else "caught up")
        self.window, self.logged_at = {}, time.monotonic()


class Dedup:
    def __init__(self, settings: Settings, page_size: int = 50_000, interval: float = 1.0):
        self.settings, self.page_size, self.interval = settings, page_size, interval
        self.production = topology.dsn_for(settings, topology.PRODUCTION, DEDUP)
        self.states = {gid: GathererState(gid) for gid in settings.gatherers}
        self.tables: tuple[catalog.Table, ...] = ()  # the catalog, once production answered

    async def run(self, once: bool = False, stop: asyncio.Event | None = None) -> dict:
        stop = stop or asyncio.Event()
        if not once:  # a long-running deduplicator serves its metrics
            metrics.serve(self.settings, "dedup")
        await asyncio.gather(*(self._loop(state, once, stop) for state in self.states.values()))
        return {gid: {"pulled": s.pulled, "last_error": s.last_error}
                for gid, s in self.states.items()}

    async def _loop(self, state: GathererState, once: bool, stop: asyncio.Event) -> None:
        ack_dsn = topology.dsn_for(self.settings, f"{state.gatherer_id}_ts", ACK)
        while not stop.is_set():
            try:
                await self._round(state, ack_dsn)
                state.report()
                state.failures, state.last_error = 0, None
                if once and all(state.caught_up.values()):
                    return
                await _pause(stop, self.interval)
            except (psycopg.Error, OSError) as exc:
                state.failures += 1
                state.last_error = str(exc).strip().splitlines()[0] if str(exc) else repr(exc)
                # One console line when a gatherer becomes unreachable; the retries at debug.
                log.log(logging.WARNING if state.failures == 1 else logging.DEBUG,
                        "dedup: %s: %s (retry %d)", state.gatherer_id, state.last_error,
                        state.failures)
                await self._record_error(state)
                if once and state.failures >= 5:
                    raise
                await _pause(stop, min(30.0, 0.5 * 2 ** state.failures))

    async def _record_error(self, state: GathererState) -> None:
        """Best effort: make the error visible in `kstore status` (production may be down)."""
        try:
            async with await psycopg.AsyncConnection.connect(
                    self.production, autocommit=True, connect_timeout=3) as conn:
                await conn.execute(
                    "update ops.dedup_cursors set last_error = %s where gatherer_id = %s",
                    [state.last_error, state.gatherer_id])
        except (psycopg.Error, OSError):
            pass

    async def _round(self, state: GathererState, ack_dsn: str) -> None:
        """Every pulled table until caught up, then the recently merged ones."""
        connect = psycopg.AsyncConnection.connect
        async with await connect(self.production, autocommit=True) as conn, \
                await connect(ack_dsn, autocommit=True) as gatherer:
            self.tables = self.tables or await catalog.load_async(conn)
            for table in catalog.select(self.tables, pulled=True):
                await self._pull(conn, gatherer, state, table)
            for table in catalog.select(self.tables, merge="recent"):
                await conn.execute(sql.SQL("select ops.{}(%s)").format(
                    sql.Identifier(f"pull_{table.name}")), [state.gatherer_id])

    async def _pull(self, conn, gatherer, state: GathererState, table: catalog.Table) -> None:
        """Pages of one table until caught up; each committed page of a table of the gatherer's
        time-series database is acknowledged there."""
        state.caught_up[table.name] = False
        while not state.caught_up[table.name]:
            cursor = await conn.execute(PULL, [state.gatherer_id, table.name, self.page_size])
            read, inserted, next_xid, caught_up = await cursor.fetchone()
            state.caught_up[table.name] = caught_up
            state.pulled += inserted
            state.count(table.name, read, inserted)
            metrics.merged(state.gatherer_id, table.name, read, inserted)
            if "gatherer_ts" in table.homes:
                await _ack(conn, gatherer, state.gatherer_id, table.name, next_xid)


async def _ack(conn, gatherer, gid: str, table: str, next_xid) -> None:
    """Tell the gatherer: every row of `table` below next_xid is committed in production."""
    # As text: a table with no merged row yet has watermark '-infinity', which datetime lacks.
    cursor = await conn.execute(
        "select watermark::text from ops.dedup_cursors where gatherer_id = %s and table_name = %s",
        [gid, table])
    watermark = (await cursor.fetchone())[0]
    await gatherer.execute(ACK_SQL, [table, next_xid, watermark])


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def status(settings: Settings) -> list[dict]:
    """Per gatherer and table: lag in seconds (ops.status_lag: the age of the oldest row not
    merged, or the time since the last pull when the gatherer cannot be read; None before the
    first pull), rows merged, duplicate rate, last error, and when the gatherer's capture
    stopped (None while it captures, or not yet merged). `kstore status`: kstore.status."""
    db = topology.database(settings, topology.PRODUCTION)
    with psycopg.connect(db.dsn, connect_timeout=5) as conn:
        rows = conn.execute(
            "select gatherer_id, table_name, case when last_pull_at is not null then lag_s end,"
            " rows_inserted, rows_read, last_pull_at, last_error, source_stopped_at"
            " from ops.status_lag() order by 1, 2").fetchall()
    return [{"gatherer": g, "table": t, "lag_s": float(lag) if lag is not None else None,
             "rows_merged": ins, "duplicate_rate": round(1 - ins / read, 4) if read else 0.0,
             "last_pull_at": at, "last_error": err, "capture_stopped_at": stopped}
            for g, t, lag, ins, read, at, err, stopped in rows]


def run(settings: Settings, once: bool = False, duration: float | None = None) -> dict:
    """Merge until stopped (or caught up, `once`); an unreachable production is an error at
    once (one line), unreachable gatherers are retried."""
    production = topology.dsn_for(settings, topology.PRODUCTION, DEDUP)
    with psycopg.connect(production, connect_timeout=10):
        pass

    async def main() -> dict:
        stop = asyncio.Event()
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, stop.set)
        _on_signals(stop)
        return await Dedup(settings).run(once, stop)
    return asyncio.run(main())


def _on_signals(stop: asyncio.Event) -> None:
    import signal
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
