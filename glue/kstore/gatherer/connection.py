"""One WebSocket connection to the exchange, kept alive for the gatherer's whole run.

Guarantees: every frame received is handed to the stream (rows, quarantine) before the next one
is read, and nothing on this path awaits the database. The handshake is signed afresh on every
connect; a refused signature (HTTP 401/403) is fatal and reported as such; any other failure
reconnects with exponential backoff and jitter and resubscribes everything. A seq gap asks the
exchange for fresh snapshots of that subscription's markets (`get_snapshot`); error replies are
handled per the table of kstore.gatherer.errors. Every reconnect and every subscription the
exchange dropped is a break (kstore.gatherer.breaks): feed_gaps rows with the cause, and fresh
snapshots of every book.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlparse

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from kstore.gatherer import errors
from kstore.gatherer.breaks import Break, OpenBreaks
from kstore.gatherer.parse import Frame
from kstore.gatherer.rest import signer
from kstore.gatherer.stream import Outcome, Stream
from kstore.journal.writer import OFF as NO_JOURNAL
from kstore.settings import GatherSettings, KalshiSettings

log = logging.getLogger("kstore.gather")

FIREHOSE_CHANNELS = ("trade", "ticker", "market_lifecycle_v2")
BOOK_CHANNEL = "orderbook_delta"
MAX_FRAME = 16 << 20  # larger frames are read, then quarantined as oversized (never a 1009)


class AuthRefused(RuntimeError):
    """The exchange refused our signed handshake: retrying cannot help."""


@dataclass
class Subscription:
    channel: str
    markets: list[str]
    sid: int | None = None


@dataclass
class Session:
    """The state of one connected socket: its id, command ids, subscriptions by sid."""

    connection_id: str
    ws: object
    commands: itertools.count = field(default_factory=lambda: itertools.count(1))
    pending: dict[int, Subscription] = field(default_factory=dict)
    by_sid: dict[int, Subscription] = field(default_factory=dict)
    sent: dict[int, tuple[str, dict | None, int]] = field(default_factory=dict)
    frame_at: datetime | None = None  # receive time of the frame being handled
    last_frame_at: datetime | None = None  # and of the frame before it
    failure: str | None = None  # why we closed it ourselves
    heard: float = field(default_factory=time.monotonic)  # monotonic time of the last frame

    async def send(self, cmd: str, params: dict | None = None, attempt: int = 0) -> int:
        """Sends a command; `sent` keeps it (and its retry count) for its error reply."""
        command_id = next(self.commands)
        message = {"id": command_id, "cmd": cmd, **({"params": params} if params else {})}
        self.sent[command_id] = (cmd, params, attempt)
        await self.ws.send(json.dumps(message))
        return command_id


class Connection:
    journal = NO_JOURNAL  # kstore.journal: every frame is appended before its rows are made

    def __init__(self, kalshi: KalshiSettings, gather: GatherSettings, stream: Stream,
                 on_outcome, markets, breaks: OpenBreaks | None = None, spawn=None,
                 plan=None, index: int = 0):
        self.kalshi, self.gather, self.stream = kalshi, gather, stream
        self.on_outcome = on_outcome  # async callback(session, outcome) for gaps, lifecycle
        self.markets = markets  # callable: the market tickers to subscribe order books for
        self.breaks = breaks if breaks is not None else OpenBreaks(_NoLog())
        self.spawn = spawn or asyncio.ensure_future  # runs a background coroutine (retries)
        self.plan, self.index = plan, index  # kstore.gatherer.subscriptions.Shards, our shard
        self.sign = signer(kalshi)
        self.session: Session | None = None
        self.connects = 0
        self.frames_this_session = 0
        self.orphans: list = []  # open gaps of dead connections, recovered by resubscribing

    def markets_of(self, connection_id: str, sid: int) -> set[str]:
        session = self.session
        if session is None or session.connection_id != connection_id:
            return set()
        subscription = session.by_sid.get(sid)
        return set(subscription.markets) if subscription else set()

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, read, reconnect until `stop` is set."""
        attempt = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._session(stop)
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    body = exc.response.body.decode(errors="replace").strip()[:200]
                    raise AuthRefused(f"exchange refused the signed handshake: HTTP {status} "
                                      f"{body} (check KSTORE_KALSHI__KEY_ID and the key)") from exc
                log.warning("gather: handshake failed: HTTP %s", status)
            except (OSError, WebSocketException, asyncio.TimeoutError) as exc:
                if not stop.is_set():  # a clean stop closes the socket: not a loss
                    log.warning("gather: connection lost: %s", exc or type(exc).__name__)
                    self._broken(cause(exc, self.session))
            if self.session is not None:
                self.orphans += self.stream.forget_connection(self.session.connection_id)
                self.session = None
            # Backoff grows over consecutive sessions that delivered nothing (refused, failed
            # handshakes); a session that worked makes the next reconnect a fresh first try.
            delivered, self.frames_this_session = self.frames_this_session > 0, 0
            attempt = 0 if delivered or time.monotonic() - started > 30 else attempt + 1
            await _sleep_or_stop(stop, _backoff(attempt, self.gather.backoff_max))

    async def _session(self, stop: asyncio.Event) -> None:
        path = urlparse(self.kalshi.ws_url).path
        async with websockets.connect(
            self.kalshi.ws_url, additional_headers=self.sign("GET", path), max_size=MAX_FRAME,
            open_timeout=10, close_timeout=2, ping_interval=20, ping_timeout=20, max_queue=1024,
        ) as ws:
            self.connects += 1
            self.session = Session(uuid.uuid4().hex[:12], ws)
            await self._subscribe_all(self.session)
            await self._read(self.session, stop)

    async def _subscribe_all(self, session: Session) -> None:
        if self.plan is not None:
            return await self.plan.subscribe_all(self, session)
        await self.subscribe(session, Subscription("firehose", []), list(FIREHOSE_CHANNELS))
        markets = self.markets()
        self.breaks.keep_books(set(markets))
        size = self.gather.markets_per_subscription
        for start in range(0, len(markets), size):
            await self.subscribe(session, Subscription(BOOK_CHANNEL, markets[start:start + size]))

    async def subscribe(self, session: Session, subscription: Subscription,
                        channels: list[str] | None = None) -> None:
        params: dict = {"channels": channels or [subscription.channel]}
        if subscription.channel == BOOK_CHANNEL:
            params |= {"market_tickers": subscription.markets,
                       "use_yes_price": self.gather.use_yes_price}
        command_id = await session.send("subscribe", params)
        session.pending[command_id] = subscription

    async def _read(self, session: Session, stop: asyncio.Event) -> None:
        """Reads frames until `stop` is set or the exchange is silent for silence_timeout.
        Frames are read in a plain loop (one `recv` per frame, no task or wait per frame); the
        stop signal and the silence watch cancel that loop once."""
        reader = asyncio.ensure_future(self._receive_loop(session))
        watch = asyncio.ensure_future(_watch(session, stop, self.gather.silence_timeout))
        try:
            done, _ = await asyncio.wait({reader, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, watch):
                task.cancel()
            await asyncio.gather(reader, watch, return_exceptions=True)
        if reader in done:
            reader.result()  # the connection ended: ConnectionClosed, or an error of _handle
        elif watch.result():
            raise asyncio.TimeoutError(f"silent for {self.gather.silence_timeout} s")

    async def _receive_loop(self, session: Session) -> None:
        recv, handle = session.ws.recv, self._handle
        while True:
            await handle(session, await recv(decode=False))

    async def _handle(self, session: Session, raw: bytes | str) -> None:
        """The receive point: every frame read from the socket, in order, exactly once."""
        self.frames_this_session += 1
        session.heard = time.monotonic()
        raw = raw.encode() if isinstance(raw, str) else raw
        frame = Frame(raw, datetime.now(timezone.utc), session.connection_id,
                      self.gather.use_yes_price)
        self.journal.append(frame)
        self.breaks.frame(frame.received_at)
        session.frame_at = frame.received_at
        outcome = self.stream.accept(frame)
        parsed = outcome.parsed
        handler = CONTROL.get(parsed.type)
        if handler is not None and parsed.reason is None:
            try:
                await handler(self, session, outcome)
            except (errors.CommandRefused, ConnectionClosed):
                raise
            except Exception as exc:  # noqa: BLE001 -- a reply we cannot act on is logged
                log.error("gather: %s reply not handled: %r", parsed.type, exc)
        if parsed.type == "orderbook_snapshot" and parsed.reason is None:
            self.breaks.snapshot(parsed.body.get("market_ticker"), frame.received_at)
        await self.on_outcome(self, session, outcome)
        session.last_frame_at = frame.received_at

    async def _subscribed(self, session: Session, outcome: Outcome) -> None:
        message = outcome.parsed.message
        subscription = session.pending.get(message.get("id"))
        msg = message.get("msg") or {}
        if subscription is None or not isinstance(msg, dict):
            return
        channel, sid = msg.get("channel"), msg.get("sid")
        owner = subscription if subscription.channel == channel else Subscription(channel, [])
        owner.sid = sid
        session.by_sid[sid] = owner
        self.breaks.subscribed(channel, session.frame_at)

    async def _error(self, session: Session, outcome: Outcome) -> None:
        if self.plan is not None and await self.plan.refused(self, session,
                                                             outcome.parsed.message):
            return
        await errors.handle(self, session, outcome.parsed.message)

    def book_sids(self, session: Session) -> list[int]:
        return sorted(sid for sid, s in session.by_sid.items() if s.channel == BOOK_CHANNEL)

    async def renew(self, session: Session, sids: list[int], why: str,
                    unsubscribe: bool) -> None:
        """The exchange no longer serves these subscriptions: a break per book (or channel),
        then the same markets subscribed again (their snapshots re-base every book)."""
        lost = [session.by_sid.pop(sid) for sid in sids if sid in session.by_sid]
        if not lost:
            return
        if unsubscribe:
            await session.send("unsubscribe", {"sids": [s.sid for s in lost]})
        now = datetime.now(timezone.utc)
        self.breaks.add([found for s in lost
                         for found in breaks_of(session, s, why, now)], reconnect=False)
        for s in lost:
            await self.subscribe(session, Subscription(s.channel, s.markets), [s.channel])

    def _broken(self, why: str) -> None:
        """The session ended: every subscription it carried is a break, resumed by the next
        connection's first frame and recovered by its subscriptions."""
        session = self.session
        if session is None or session.last_frame_at is None:
            return
        now = datetime.now(timezone.utc)
        found = [b for s in session.by_sid.values() for b in breaks_of(session, s, why, now)]
        self.breaks.add(found, reconnect=True)

    async def request_snapshots(self, session: Session, sid: int, markets: set[str]) -> None:
        if markets:
            await session.send("update_subscription", {
                "sids": [sid], "market_tickers": sorted(markets), "action": "get_snapshot"})

    async def add_markets(self, tickers: list[str]) -> None:
        """Subscribe order books of new markets (a new subscription: simplest, always valid)."""
        session = self.session
        if session is not None and tickers:
            await self.subscribe(session, Subscription(BOOK_CHANNEL, sorted(tickers)))

    async def remove_markets(self, tickers: list[str]) -> None:
        session = self.session
        if session is None:
            return
        for sid, subscription in list(session.by_sid.items()):
            gone = [t for t in subscription.markets if t in tickers]
            if subscription.channel == BOOK_CHANNEL and gone:
                subscription.markets = [t for t in subscription.markets if t not in tickers]
                await session.send("update_subscription", {
                    "sid": sid, "market_tickers": gone, "action": "delete_markets"})


CONTROL = {
    "subscribed": Connection._subscribed,
    "error": Connection._error,
}


def breaks_of(session: Session, subscription: Subscription, why: str, now: datetime) -> list:
    """One break per book of a book subscription, one for any other channel."""
    markets = subscription.markets if subscription.channel == BOOK_CHANNEL else [None]
    return [Break(session.connection_id, subscription.sid, subscription.channel, why, market,
                  session.last_frame_at, now) for market in markets]


def cause(exc: BaseException, session: Session | None) -> str:
    """silence (no frame for the silence timeout), closed (the server sent a close frame),
    error (we gave up on it, or it dropped without a close frame, or a socket error)."""
    if isinstance(exc, asyncio.TimeoutError):
        return "silence"
    if session is not None and session.failure is not None:
        return "error"
    if isinstance(exc, ConnectionClosed) and exc.rcvd is not None and exc.rcvd_then_sent:
        return "closed"
    return "error"


class _NoLog:
    """A GapLog stand-in for a connection used without one (tests of the socket alone)."""

    def detected(self, gap) -> None: ...
    def resumed(self, gap, at) -> None: ...
    def recovered(self, gap, how) -> None: ...


def _backoff(attempt: int, ceiling: float) -> float:
    return min(ceiling, 0.25 * 2 ** attempt) * (0.5 + random.random() / 2)


async def _watch(session: Session, stop: asyncio.Event, silence: float) -> bool:
    """Returns False once `stop` is set, True once no frame came for `silence` seconds."""
    while not stop.is_set():
        left = session.heard + silence - time.monotonic()
        if left <= 0:
            return True
        try:
            await asyncio.wait_for(stop.wait(), timeout=left)
        except asyncio.TimeoutError:
            pass
    return False


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
