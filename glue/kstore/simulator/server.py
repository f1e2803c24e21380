"""The simulated exchange: one universe and one event stream, fanned out to every connection.

REST and WebSocket share one port: websockets' `process_request` answers REST GETs and lets
`/trade-api/ws/v2` upgrade. Every connection sees the same events in the same order, each
with its own sids and seqs; faults are applied per connection after an event is generated,
so they never change the stream itself (see faults.py for the guarantees).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from typing import Any, Self
from urllib.parse import parse_qs

from websockets.asyncio.server import Server, ServerConnection, serve as ws_serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from . import commands, rest
from kstore.kalshi_auth import Verifier
from .faults import Dice, next_fire
from .generator import FeedEvent, Generator
from .mutations import Mutator
from .ratelimit import RestMeter
from .options import SimulatorOptions, parse_faults
from .session import CLOSE, Session
from .truth import TruthWriter
from .units import mix64, unit, wall_ms
from .catalogue import add_catalogue
from .universe import build_universe

WS_PATH = "/trade-api/ws/v2"
BATCH = 2000  # events generated per loop turn at most, so writers and commands keep up
log = logging.getLogger("kstore.simulator")


# After the awaited subscribers arrive, the feed waits this long for the rest of their subscribe
# commands (a gatherer sends several back to back), so none misses the first events.
SUBSCRIBE_SETTLE_SECONDS = 0.5


class ExchangeServer:
    """What the simulated exchange and the replay server share: REST and WebSocket on one port
    (`_http` answers REST and refuses unsigned requests when a public key is set, `_connection`
    serves an upgraded connection), `stop()` after `duration`, and the lifecycle
    `async with Server(options) as sim: sim.ws_url`. stop() sends what is queued, closes every
    connection with 1001, stops listening; wait_stopped() returns once it has finished."""

    label = "server"  # names it in logs

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self.base_ms = options.anchor_ms if options.anchor_ms is not None else wall_ms()
        self.verifier = Verifier.from_file(options.public_key, options.key_id, options.max_skew_ms) \
            if options.public_key else None
        self._stopped = asyncio.Event()  # stop() began
        self._closed = asyncio.Event()  # stop() finished
        self._server: Server | None = None
        self.rest_meter = RestMeter(options.rest_rate_limit)
        self._tasks: list[asyncio.Task] = []

    @property
    def port(self) -> int:
        assert self._server is not None, f"{self.label} not started"
        return self._server.sockets[0].getsockname()[1]

    @property
    def ws_url(self) -> str:
        return f"ws://{self.options.host}:{self.port}{WS_PATH}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.options.host}:{self.port}{rest.PREFIX}"

    async def _listen(self, **limits: Any) -> None:
        """Bind the port (websockets' `limits` on top of the shared ones); arm `duration`."""
        self._server = await ws_serve(
            self._connection, self.options.host, self.options.port, process_request=self._http,
            compression=None, ping_interval=None, max_size=1 << 20, **limits,
        )
        if self.options.duration:
            self._tasks.append(asyncio.create_task(self._stop_after(self.options.duration)))

    async def stop(self, flush_timeout: float = 5.0) -> None:
        """Stop the tasks, flush every connection's queue, close them with 1001, stop listening."""
        if self._stopped.is_set():
            return await self._closed.wait()
        self._stopped.set()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        writers = self._close_connections()
        if writers:
            await asyncio.wait(writers, timeout=flush_timeout)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._finish()
        self._closed.set()
        log.info("%s stopped: %s", self.label, self.summary())

    def _close_connections(self) -> list[asyncio.Task]:
        """Queue a 1001 close after what each connection has queued; return their writers."""
        raise NotImplementedError

    def _finish(self) -> None:
        """Last step of stop(), once nothing is sent any more."""

    def summary(self) -> dict:
        raise NotImplementedError

    async def wait_stopped(self) -> None:
        """Return once stop() has finished."""
        await self._closed.wait()

    async def _stop_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.stop()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> Self:
        raise NotImplementedError

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        """401 when a public key is set and the request is not signed with its private key;
        else the WebSocket path upgrades (unless `_refuse_upgrade` answers) and REST answers
        the rest."""
        path, _, query = request.path.partition("?")
        reason = self.verifier.refusal(request.method, path, request.headers) \
            if self.verifier is not None else None
        if reason is not None:
            return rest.json_response(401, {"error": {"code": "unauthorized", "message": reason}})
        if path == WS_PATH:
            return self._refuse_upgrade(query)
        return self._rest(request.method, path, query)

    def _refuse_upgrade(self, query: str) -> Response | None:
        return None

    def _rest(self, method: str, path: str, query: str) -> Response:
        if not self.rest_meter.admit():
            return rest.json_response(429, {"error": "too many requests"})
        return rest.respond(self, method, path, query)

    async def _connection(self, ws: ServerConnection) -> None:
        raise NotImplementedError


class Simulator(ExchangeServer):
    """`async with Simulator(options) as sim:` serves until `stop()` or `duration` elapses."""

    label = "simulator"

    def __init__(self, options: SimulatorOptions) -> None:
        super().__init__(options)
        rng = random.Random(options.seed)
        self.universe = build_universe(rng, options.markets, self.base_ms)
        add_catalogue(self.universe, options.seed, options.catalogue, options.mve, self.base_ms)
        self.generator = Generator(self.universe, rng, options.rate, self.base_ms, options.markets,
                                   options.lifecycle_rate)
        self.generator.quiet_share = options.quiet_share
        self.dice = Dice(options.seed, options.fault_slots, options.drop_probability,
                         options.duplicate_probability, options.malformed_probability)
        self.sessions: list[Session] = []
        self.injected: deque = deque(maxlen=100_000)  # (connection serial, catalogue name, sha256)
        self.mutator = Mutator(options.seed, options.fuzz_log, list(options.fuzz_mutations))
        self.stats = {"connections": 0, "events": 0, "dropped": 0, "disconnects": 0, "slow": 0}
        self.now_ms = wall_ms()
        self.feed_started = asyncio.Event()
        self.feed_done = asyncio.Event()
        self._subscribers = asyncio.Event()
        self._truth: TruthWriter | None = None
        self._start_time = 0.0
        self._feed_origin: float | None = None
        self._feed_end: float | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> Simulator:
        """Listen, then start the feed (after `wait_for_subscribers` subscribed, if set)."""
        self._start_time = asyncio.get_running_loop().time()
        if self.options.truth:
            self._truth = TruthWriter(self.options.truth)
            self._truth.listed(self.universe)
        await self._listen(max_queue=64)
        self._tasks.append(asyncio.create_task(self._feed()))
        log.info("simulator listening on %s", self.ws_url)
        return self

    def _close_connections(self) -> list[asyncio.Task]:
        for session in list(self.sessions):
            session.push(CLOSE)
        return [s.writer for s in self.sessions if s.writer is not None]

    def _finish(self) -> None:
        if self._truth:
            self._truth.close()  # complete once wait_stopped() returns
        self.mutator.close()

    def summary(self) -> dict:
        """Counters plus the achieved feed rate (events per second since the feed started)."""
        end = self._feed_end if self._feed_end is not None else asyncio.get_running_loop().time()
        elapsed = end - self._feed_origin if self._feed_origin is not None else 0.0
        rate = self.generator.index / elapsed if elapsed > 0 else 0.0
        return {**self.stats, "events": self.generator.index, "mutants": self.mutator.made,
                "feed_seconds": round(elapsed, 3),
                "events_per_second": round(rate, 1), **self.rest_meter.summary()}

    def start_feed(self) -> None:
        """Open the feed gate now (it also opens when enough connections subscribed)."""
        self._subscribers.set()

    def note_subscribed(self) -> None:
        """Open the feed gate once `wait_for_subscribers` connections hold a subscription."""
        wanted = self.options.wait_for_subscribers
        if wanted and not self.options.hold_feed and sum(1 for s in self.sessions if s.subs) >= wanted:
            self._subscribers.set()

    # -- HTTP: the upgrade -----------------------------------------------------------------------
    def _refuse_upgrade(self, query: str) -> Response | None:
        return _bad_faults(query)

    def _open(self, ws: ServerConnection) -> Session:
        """Register a connection in the lowest free fault slot (so gatherers map to 0, 1, 2)."""
        used = {s.slot for s in self.sessions}
        slot = next(i for i in range(len(used) + 1) if i not in used)
        self.stats["connections"] += 1
        session = Session(ws, slot, self.stats["connections"], connection_faults(self.options, ws.request),
                          self.dice, self.options.buffer_limit, self.injected, self.mutator)
        self.sessions.append(session)
        return session

    def _close(self, session: Session) -> None:
        session.open = False
        if session in self.sessions:
            self.sessions.remove(session)

    async def _connection(self, ws: ServerConnection) -> None:
        """Per-connection task: read commands until the connection ends."""
        session = self._open(ws)
        session.writer = asyncio.create_task(session.write_loop())
        helpers = self._helpers(session)
        try:
            async for raw in ws:
                commands.dispatch(self, session, raw)
        except ConnectionClosed:
            pass
        finally:
            self._close(session)
            for task in helpers:
                task.cancel()
            if not self._stopped.is_set():
                session.writer.cancel()

    def _helpers(self, session: Session) -> list[asyncio.Task]:
        tasks = []
        if self.options.ping_interval:
            tasks.append(asyncio.create_task(session.heartbeat(self.options.ping_interval)))
        if "disconnects" in session.faults:
            tasks.append(asyncio.create_task(self._fault_timer(session, self.options.disconnect_every, self._disconnect)))
        if "slow" in session.faults:
            tasks.append(asyncio.create_task(self._fault_timer(session, self.options.slow_every, self._slow)))
        return tasks

    async def _fault_timer(self, session: Session, every: float, action) -> None:
        """Fire `action(session, k)` at the slot's staggered times while the connection lives."""
        loop = asyncio.get_running_loop()
        while session.open:
            at, k = next_fire(loop.time(), self._start_time, every, session.slot, self.options.fault_slots)
            await asyncio.sleep(at - loop.time())
            if session.open:
                await action(session, k)

    async def _disconnect(self, session: Session, k: int) -> None:
        """Alternate an abrupt TCP abort (client sees 1006) and a 1012 service-restart close."""
        self.stats["disconnects"] += 1
        self._close(session)
        if k % 2:
            session.ws.transport.abort()
        else:
            with contextlib.suppress(ConnectionClosed):
                await session.ws.close(1012, "simulated restart")

    async def _slow(self, session: Session, k: int) -> None:
        """Injected slow consumer: drop one data subscription with error 25."""
        subs = [s for s in session.subs.values() if s.channel != "market_lifecycle_v2"]
        if subs:
            self.stats["slow"] += 1
            session.overflow(next((s for s in subs if s.sequenced), subs[0]))

    # -- the feed -----------------------------------------------------------------------------
    async def _feed(self) -> None:
        """Generate events at `rate`, catching up in batches when behind the simulated clock."""
        if self.options.hold_feed or self.options.wait_for_subscribers:
            await self._subscribers.wait()
            if not self.options.hold_feed:  # let the client finish its burst of subscribes
                await asyncio.sleep(SUBSCRIBE_SETTLE_SECONDS)
        if self.options.anchor_ms is None:
            self.generator.anchor_ms = wall_ms()
        self.feed_started.set()
        loop, gen, limit = asyncio.get_running_loop(), self.generator, self.options.max_events
        origin = self._feed_origin = loop.time()
        try:
            while limit is None or gen.index < limit:
                due = int((loop.time() - origin) * self.options.rate) + 1
                self._generate(due if limit is None else min(due, limit))
                ahead = gen.index / self.options.rate - (loop.time() - origin)
                await asyncio.sleep(max(ahead, 0.001) if gen.index >= due else 0)
        finally:
            self._feed_end = loop.time()
        self.feed_done.set()
        if self._truth:
            self._truth.file.flush()

    def _generate(self, due: int) -> None:
        gen, truth = self.generator, self._truth
        self.now_ms = wall_ms()
        for _ in range(BATCH):
            if gen.index >= due:
                break
            for event in gen.step():
                self.publish(event)
                if truth:
                    truth.write(event)
        self.stats["events"] = gen.index
        if truth:
            truth.maybe_flush(self.now_ms)

    def publish(self, event: FeedEvent) -> None:
        """Queue one event on every matching subscription of every connection."""
        if self.options.lose_trades and event.channel == "trade" and self._lost(event.index):
            self.stats["lost"] = self.stats.get("lost", 0) + 1
            return  # no connection gets it: only GET /markets/trades knows (kstore reconcile)
        drops = self.dice.drop_slots(event.ts_ms) if self._gaps_live() else ()
        if drops:
            return self._publish_dropping(event, drops)
        channel, ticker, now = event.channel, event.ticker, self.now_ms
        for session in self.sessions:
            for sub in session.matching(channel, ticker):
                session.deliver(sub, event, now)
            if session.malformed_on and session.by_channel.get(channel):
                session.maybe_malformed(event)

    def _lost(self, index: int) -> bool:
        return unit(mix64(self.options.seed ^ 0x1057 ^ index << 8)) < self.options.lose_trades

    def _gaps_live(self) -> bool:
        return any("gaps" in s.faults for s in self.sessions)

    def _publish_dropping(self, event: FeedEvent, drops: tuple[int, ...]) -> None:
        """Drop for the chosen slots, unless that would take the event from every receiver."""
        targets = [(s, sub) for s in self.sessions for sub in s.by_channel.get(event.channel, ())
                   if sub.wants(event.ticker)]
        receivers = {s.serial for s, _ in targets}
        droppers = {s.serial for s, _ in targets
                    if "gaps" in s.faults and s.slot % self.options.fault_slots in drops}
        if droppers >= receivers:
            droppers = set()
        self.stats["dropped"] += len(droppers)
        for session, sub in targets:
            session.deliver(sub, event, self.now_ms, drop=session.serial in droppers)
        for session in {id(s): s for s, _ in targets}.values():
            if session.malformed_on:
                session.maybe_malformed(event)


def connection_faults(options: SimulatorOptions, request: Request | None) -> frozenset[str]:
    """Faults for one connection: the options', or `?faults=a,b` on the WS URL (simulator-only)."""
    query = request.path.partition("?")[2] if request is not None else ""
    values = parse_qs(query, keep_blank_values=True).get("faults")
    return parse_faults(values[-1]) if values else options.faults


def _bad_faults(query: str) -> Response | None:
    try:
        parse_faults((parse_qs(query, keep_blank_values=True).get("faults") or [""])[-1])
    except ValueError as exc:
        return rest.json_response(400, {"error": {"code": "invalid_parameters", "message": str(exc)}})
    return None
