"""One client connection: its subscriptions (sid -> seq), outbound queue and writer.

Every frame for a connection, replies and data alike, goes through one FIFO queue, so a
snapshot queued while handling `subscribe` is always followed by exactly the deltas generated
after it. A queue longer than `buffer_limit` frames drops the subscription that overflows it
with error 25, as Kalshi does with a slow reader.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections import deque

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConcurrencyError, ConnectionClosed

from . import frames
from .faults import CATALOGUE, DUPLICATE, MALFORMED, Dice, RawText, Sample
from .generator import FeedEvent
from .mutations import Mutator

SEQUENCED = frozenset({"orderbook_delta"})
MUTATED = frozenset({"orderbook_delta", "trade", "ticker"})  # the `fuzz` fault's channels
WRITE_BATCH = 256  # frames per socket write
CLOSE = object()  # queue sentinel: close with 1001 once everything before it is sent


def digest(frame: str | bytes) -> str:
    """sha256 of a frame's payload bytes: how tests match injected frames to received ones."""
    return hashlib.sha256(frame.encode() if isinstance(frame, str) else frame).hexdigest()


class Subscription:
    __slots__ = ("sid", "channel", "markets", "seq", "use_yes_price", "sequenced")

    def __init__(self, sid: int, channel: str, markets: list[str] | None, use_yes_price: bool) -> None:
        self.sid, self.channel, self.use_yes_price = sid, channel, use_yes_price
        self.markets: dict[str, None] | None = None if markets is None else dict.fromkeys(markets)
        self.seq = 0
        self.sequenced = channel in SEQUENCED

    def wants(self, ticker: str) -> bool:
        return self.markets is None or ticker in self.markets


class Session:
    def __init__(self, ws: ServerConnection, slot: int, serial: int, faults: frozenset[str],
                 dice: Dice, buffer_limit: int, record: deque,
                 mutator: Mutator | None = None) -> None:
        self.ws, self.slot, self.serial, self.faults, self.dice = ws, slot, serial, faults, dice
        self.buffer_limit, self.record = buffer_limit, record
        self.subs: dict[int, Subscription] = {}
        self.by_channel: dict[str, list[Subscription]] = {}
        self.unfiltered: dict[str, list[Subscription]] = {}  # channel -> subs without a filter
        self.index: dict[tuple[str, str], list[Subscription]] = {}  # (channel, ticker) -> subs
        self.sids = itertools.count(1)
        self.out: deque = deque()
        self.wake = asyncio.Event()
        self.open = True
        self.writer: asyncio.Task | None = None
        self.duplicates_on = "duplicates" in faults
        self.malformed_on = "malformed" in faults
        self.malformed_sent = 0
        self.mutator = mutator if "fuzz" in faults else None
        self.sent = 0

    # -- subscriptions ---------------------------------------------------------------------
    def subscribe(self, channel: str, markets: list[str] | None, use_yes_price: bool) -> Subscription:
        sub = Subscription(next(self.sids), channel, None if markets is None else [], use_yes_price)
        self.subs[sub.sid] = sub
        self.by_channel[channel] = [*self.by_channel.get(channel, ()), sub]
        if markets is None:
            self.unfiltered[channel] = [*self.unfiltered.get(channel, ()), sub]
        else:
            self.add_tickers(sub, markets)
        return sub

    def unsubscribe(self, sid: int) -> Subscription:
        """Remove a subscription; fan-out loops hold the old list, so this is safe mid-publish."""
        sub = self.subs.pop(sid)
        self.by_channel[sub.channel] = [s for s in self.by_channel[sub.channel] if s is not sub]
        if sub.markets is None:
            self.unfiltered[sub.channel] = [s for s in self.unfiltered[sub.channel] if s is not sub]
        else:
            self.remove_tickers(sub, list(sub.markets))
        return sub

    def add_tickers(self, sub: Subscription, tickers: list[str]) -> None:
        """Markets join a filtered subscription (kept in the (channel, ticker) index)."""
        for ticker in tickers:
            if ticker not in sub.markets:
                sub.markets[ticker] = None
                key = (sub.channel, ticker)
                self.index[key] = [*self.index.get(key, ()), sub]

    def remove_tickers(self, sub: Subscription, tickers: list[str]) -> None:
        for ticker in tickers:
            if sub.markets.pop(ticker, 0) is None:
                key = (sub.channel, ticker)
                left = [s for s in self.index.get(key, ()) if s is not sub]
                if left:
                    self.index[key] = left
                else:
                    self.index.pop(key, None)

    def matching(self, channel: str, ticker: str) -> list[Subscription] | tuple:
        """The subscriptions an event of `channel` on `ticker` goes to, in sid order: one
        lookup whatever the number of subscriptions (a catalogue has hundreds)."""
        everything, filtered = self.unfiltered.get(channel, ()), self.index.get((channel, ticker), ())
        if everything and filtered:
            return sorted([*everything, *filtered], key=lambda sub: sub.sid)
        return everything or filtered

    # -- outbound --------------------------------------------------------------------------
    def push(self, frame: object) -> None:
        self.out.append(frame)
        self.wake.set()

    def push_data(self, sub: Subscription, frame: str) -> None:
        if len(self.out) >= self.buffer_limit:
            self.overflow(sub)
        else:
            self.out.append(frame)
            self.wake.set()

    def overflow(self, sub: Subscription) -> None:
        """Error 25: drop the subscription; the client must subscribe again (new sid, snapshot)."""
        if sub.sid in self.subs:
            self.unsubscribe(sub.sid)
            self.push(frames.error(None, 25, sid=sub.sid))

    def deliver(self, sub: Subscription, event: FeedEvent, now_ms: int, drop: bool = False) -> None:
        """Queue one event on one subscription; a dropped event still consumes its seq."""
        seq = None
        if sub.sequenced:
            sub.seq += 1
            seq = sub.seq
        if drop:
            return
        frame = frames.data_frame(event.type, sub.sid, seq, event.body(sub.use_yes_price), now_ms)
        self.push_data(sub, frame)
        if self.duplicates_on and self.dice.hit(DUPLICATE, event.index, self.slot):
            self.push_data(sub, frame)
        if (self.mutator is not None and sub.channel in MUTATED
                and self.dice.hit(MALFORMED, event.index, self.slot)):
            self.push(self.mutator.mutate(frame))

    def maybe_malformed(self, event: FeedEvent) -> None:
        """After an event, maybe inject the next catalogue entry (an extra frame, no seq)."""
        if not (self.subs and self.dice.hit(MALFORMED, event.index, self.slot)):
            return
        name = list(CATALOGUE)[self.malformed_sent % len(CATALOGUE)]
        self.malformed_sent += 1
        frame = CATALOGUE[name](self._sample(event))
        self.record.append((self.serial, name, digest(frame)))
        self.push(frame)

    def _sample(self, event: FeedEvent) -> Sample:
        subs = list(self.subs.values())
        trade = next((s for s in subs if s.channel == "trade"), subs[0])
        book = next((s for s in subs if s.sequenced), None)
        if book is None:
            return Sample(trade.sid, trade.sid, None, event.ticker, event.ts_ms)
        return Sample(trade.sid, book.sid, book.seq, event.ticker, event.ts_ms)

    async def write_loop(self) -> None:
        """Send queued frames in order, in batches, until CLOSE or the connection ends."""
        try:
            while True:
                while not self.out:
                    self.wake.clear()
                    await self.wake.wait()
                batch, closing = self._take(WRITE_BATCH)
                await self._send_batch(batch)
                self.sent += len(batch)
                if closing:
                    await self.ws.close(1001, "simulation finished")
                    return
                await asyncio.sleep(0)
        except ConnectionClosed:
            pass

    def _take(self, limit: int) -> tuple[list, bool]:
        """Up to `limit` queued frames, stopping at CLOSE; (frames, CLOSE reached)."""
        out, batch = self.out, []
        while out and len(batch) < limit:
            frame = out.popleft()
            if frame is CLOSE:
                return batch, True
            batch.append(frame)
        return batch, False

    async def _send_batch(self, batch: list) -> None:
        """Many frames per socket write. `send_context` is websockets-internal (pinned 17.x);
        it keeps the protocol state machine and flow control that `send()` would apply."""
        ws = self.ws
        if not hasattr(ws, "send_context"):
            for frame in batch:
                await (ws.send(frame, text=True) if isinstance(frame, RawText) else ws.send(frame))
            return
        protocol = ws.protocol
        async with ws.send_context():
            for frame in batch:
                if isinstance(frame, str):
                    protocol.send_text(frame.encode())
                elif isinstance(frame, RawText):
                    protocol.send_text(bytes(frame))
                else:
                    protocol.send_binary(frame)

    async def heartbeat(self, interval: float) -> None:
        """Ping control frames with body `heartbeat`, as Kalshi sends every 10 s."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.ws.ping(b"heartbeat")
            except ConcurrencyError:
                pass  # previous heartbeat not answered yet
            except ConnectionClosed:
                return
