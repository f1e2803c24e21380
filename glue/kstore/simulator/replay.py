"""`kstore simulate --replay FILE`: a recorded frame file served byte for byte (decision 0018).

The n-th WebSocket connection accepted (0, 1, ...) plays the file's `conn` n: its frames in file
order, each exactly as recorded (text, binary, or raw bytes in a text frame), with the
recorded silences, closes and aborts. Subscribe commands are answered from the connection's
sid plan, so the `subscribed` reply for channel X carries the sid the recording used for X
(the k-th subscribe of X gets the k-th planned sid; beyond the plan, fresh sids above it).
A frame whose sid is planned waits until that sid has been handed out (at most
SID_WAIT_SECONDS, then it is sent anyway), so data never precedes its subscription. Replies to
commands share the connection's one FIFO with the recorded frames. REST answers come from
replay_universe (markets named by the frames, or the file's `rest` records).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections import deque

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConcurrencyError, ConnectionClosed
from websockets.http11 import Response

from . import frames, replay_file, replay_universe, rest
from .commands import CHANNELS, CommandError
from .options import SimulatorOptions
from .replay_file import Abort, Close, Frame, Silence
from .server import ExchangeServer

SID_WAIT_SECONDS = 10.0
PLAYED = object()  # queue marker: every recorded frame of this connection has been sent
log = logging.getLogger("kstore.simulator")


class ReplayServer(ExchangeServer):
    """Same surface as Simulator: `async with ReplayServer(options) as sim: sim.ws_url`."""

    label = "replay"

    def __init__(self, options: SimulatorOptions) -> None:
        assert options.replay is not None, "ReplayServer needs options.replay"
        super().__init__(options)
        self.recording = replay_file.load(options.replay)
        self.universe, self.generator = replay_universe.build(self.recording, self.base_ms)
        self.connections: list[ReplayConnection] = []
        self.stats = {"connections": 0, "frames": 0, "commands": 0}
        self.played = asyncio.Event()  # every recorded conn has played all its steps
        self._unplayed = set(self.recording.scripts)

    async def start(self) -> ReplayServer:
        if not self._unplayed:
            self.played.set()
        await self._listen(close_timeout=2)
        log.info("replay of %s listening on %s (%d connection script(s))", self.options.replay,
                 self.ws_url, len(self.recording.scripts))
        return self

    def _close_connections(self) -> list[asyncio.Task]:
        for connection in self.connections:
            connection.finish()
        return [c.writer for c in self.connections if c.writer is not None]

    def summary(self) -> dict:
        return {**self.stats, "played": sorted(set(self.recording.scripts) - self._unplayed)}

    def note_played(self, conn: int) -> None:
        self._unplayed.discard(conn)
        if not self._unplayed:
            self.played.set()

    def _rest(self, method: str, path: str, query: str) -> Response:
        """The recording's REST answers first, then the universe built from its frames."""
        fixed = replay_universe.answer(self.recording, path, query) if method == "GET" else None
        return fixed or super()._rest(method, path, query)

    async def _connection(self, ws: ServerConnection) -> None:
        connection = ReplayConnection(self, ws, self.stats["connections"])
        self.stats["connections"] += 1
        self.connections.append(connection)
        await connection.serve()


class ReplayConnection:
    """One accepted connection playing `conn` = its serial number."""

    def __init__(self, server: ReplayServer, ws: ServerConnection, serial: int) -> None:
        self.server, self.ws, self.serial = server, ws, serial
        self.script = server.recording.script(serial)
        plan = self.script.sids
        self.free = {channel: deque(sids) for channel, sids in plan.items()}
        self.handed = {sid: asyncio.Event() for sids in plan.values() for sid in sids}
        self.fresh = itertools.count(max(self.handed, default=0) + 1)
        self.live: dict[int, str] = {}
        self.out: asyncio.Queue = asyncio.Queue()
        self.opened = asyncio.get_running_loop().time()
        self.writer: asyncio.Task | None = None

    async def serve(self) -> None:
        """Play the script and answer commands until the connection ends."""
        self.writer = asyncio.create_task(self._write_loop())
        helpers = [asyncio.create_task(self._play())]
        if self.server.options.ping_interval:
            helpers.append(asyncio.create_task(self._heartbeat(self.server.options.ping_interval)))
        try:
            async for raw in self.ws:
                self.server.stats["commands"] += 1
                self.command(raw)
        except ConnectionClosed:
            pass
        finally:
            for task in helpers:
                task.cancel()
            if not self.server._stopped.is_set():
                self.writer.cancel()

    def finish(self) -> None:
        """Server stopping: close with 1001 after what is queued."""
        self.out.put_nowait(Close(1001, "replay finished"))

    def reply(self, frame: str) -> None:
        self.out.put_nowait((frame.encode(), True))

    # -- the recorded side -----------------------------------------------------------------
    async def _play(self) -> None:
        for step in self.script.steps:
            if isinstance(step, Frame):
                await self._ready(step)
                self.out.put_nowait((step.render(self.server.base_ms), step.text))
            elif isinstance(step, Silence):
                await self.out.join()  # the silence starts once the frames before it are out
                await asyncio.sleep(step.seconds)
            else:  # Close or Abort: always the last step (replay_file refuses steps after it)
                self.out.put_nowait(PLAYED)
                self.out.put_nowait(step)
                return
        self.out.put_nowait(PLAYED)

    async def _ready(self, frame: Frame) -> None:
        """Wait for the frame's subscription (if planned) and its `at_ms` (if paced)."""
        handed = self.handed.get(frame.sid) if frame.sid is not None else None
        if handed is not None and not handed.is_set():
            try:
                await asyncio.wait_for(handed.wait(), SID_WAIT_SECONDS)
            except asyncio.TimeoutError:
                log.warning("replay conn %d: sid %d never subscribed; sending its frames anyway",
                            self.serial, frame.sid)
                handed.set()
        speed = self.server.options.replay_speed
        if frame.at_ms is not None and speed > 0:
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(0.0, self.opened + frame.at_ms / 1000 / speed - loop.time()))

    async def _write_loop(self) -> None:
        """Send queued items in order; a Close or Abort ends the connection."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                item = await self.out.get()
                try:
                    if isinstance(item, Close):
                        return await self.ws.close(item.code, item.reason)
                    if isinstance(item, Abort):
                        return self.ws.transport.abort()
                    if item is PLAYED:
                        self.server.note_played(self.serial)
                        continue
                    payload, text = item
                    await self.ws.send(payload, text=text)  # bytes as-is, even as a text frame
                    self.server.stats["frames"] += 1
                finally:
                    self.out.task_done()

    async def _heartbeat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(ConcurrencyError):
                try:
                    await self.ws.ping(b"heartbeat")
                except ConnectionClosed:
                    return

    # -- the client's commands -----------------------------------------------------------------
    def command(self, raw: str | bytes) -> None:
        """Answer one client command; failures are error replies (codes of §3.3)."""
        try:
            command = json.loads(raw)
        except ValueError:
            return self.reply(frames.error(None, 1))
        if not isinstance(command, dict):
            return self.reply(frames.error(None, 1))
        cmd_id, name, params = command.get("id"), command.get("cmd"), command.get("params")
        handler = COMMANDS.get(name) if isinstance(name, str) else None
        try:
            if handler is None:
                raise CommandError(5, f"Unknown command {name!r}")
            handler(self, cmd_id, params if isinstance(params, dict) else {})
        except CommandError as exc:
            self.reply(frames.error(cmd_id, exc.code, exc.detail))

    def subscribe(self, cmd_id: object, params: dict) -> None:
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            raise CommandError(3)
        known = (*CHANNELS, *self.free)
        unknown = [c for c in channels if not isinstance(c, str) or c not in known]
        if unknown:
            raise CommandError(8, f"Unknown channel name {unknown[0]!r}")
        for channel in dict.fromkeys(channels):
            planned = self.free.get(channel)
            sid = planned.popleft() if planned else next(self.fresh)
            self.live[sid] = channel
            self.reply(frames.subscribed(cmd_id, channel, sid))
            if sid in self.handed:
                self.handed[sid].set()

    def unsubscribe(self, cmd_id: object, params: dict) -> None:
        sids = params.get("sids")
        if not isinstance(sids, list) or not sids:
            raise CommandError(4)
        missing = [sid for sid in sids if sid not in self.live]
        if missing:
            raise CommandError(7, f"Unknown subscription ID {missing[0]!r}")
        for sid in dict.fromkeys(sids):
            del self.live[sid]
            self.reply(frames.unsubscribed(cmd_id, sid))

    def update_subscription(self, cmd_id: object, params: dict) -> None:
        """Acknowledged only: what the exchange sent after it (snapshots) is in the recording."""
        sids = params.get("sids", [params["sid"]] if "sid" in params else None)
        if not isinstance(sids, list) or len(sids) != 1:
            raise CommandError(4 if sids is None else 12)
        if sids[0] not in self.live:
            raise CommandError(7, f"Unknown subscription ID {sids[0]!r}")
        tickers = params.get("market_tickers", [params.get("market_ticker")])
        tickers = [t for t in tickers if isinstance(t, str)] if isinstance(tickers, list) else []
        self.reply(frames.ok_markets(cmd_id, sids[0], None, tickers))

    def list_subscriptions(self, cmd_id: object, params: dict) -> None:
        subs = [{"channel": channel, "sid": sid} for sid, channel in self.live.items()]
        self.reply(frames.ok_subscriptions(cmd_id, subs))


COMMANDS = {
    "subscribe": ReplayConnection.subscribe,
    "unsubscribe": ReplayConnection.unsubscribe,
    "update_subscription": ReplayConnection.update_subscription,
    "list_subscriptions": ReplayConnection.list_subscriptions,
}
