"""Order-book subscriptions within the exchange's limits: shards over connections.

Contract (issue 11, decision 0062):
- the selected books are spread over `gather.connections` connections (each book on exactly one,
  the least loaded when it is added) and, on each, over subscriptions of at most `cap` markets
  (`gather.markets_per_subscription`, lowered when the exchange answers error 26);
- a market that enters the selection during a run joins a subscription with room through
  `update_subscription` `add_markets` (else a new subscription); one that leaves is taken out
  with `delete_markets`; no other subscription is touched;
- error 26 on a subscribe splits it in halves, on an `add_markets` moves the markets to a new
  subscription; either way the cap becomes what the exchange accepted;
- a selection larger than the configured limits is refused at start with a one-line reason
  (kstore.selection.check_limits); markets beyond them that open later are left out, logged.
The global channels (lifecycle, and trade/ticker as a firehose) ride on the first connection;
without the firehose, trade and ticker follow the books, shard by shard.
"""

from __future__ import annotations

import logging
from collections import Counter

from kstore.gatherer.connection import Subscription
from kstore.selection import capacity, check_limits

log = logging.getLogger("kstore.gather")

BOOK_CHANNEL = "orderbook_delta"
MARKET_LIMIT = 26


class Shards:
    """Which connection carries which books, and what each connection must subscribe."""

    def __init__(self, gather) -> None:
        self.gather = gather
        self.cap = gather.markets_per_subscription
        self.of: dict[str, int] = {}  # book -> connection index
        self.load = [0] * gather.connections
        self.connections: list = []  # the gatherer's Connection objects, by index
        self.counts: Counter = Counter()

    @property
    def channels(self) -> list[str]:
        """Channels that follow the selection (one subscription each per shard)."""
        return [BOOK_CHANNEL] + ([] if self.gather.selection.firehose else ["trade", "ticker"])

    def globals_for(self, index: int) -> list[str]:
        if index != 0:
            return []
        return ["market_lifecycle_v2"] + (["trade", "ticker"]
                                          if self.gather.selection.firehose else [])

    def books(self) -> set[str]:
        return set(self.of)

    def markets_for(self, index: int) -> list[str]:
        return sorted(t for t, i in self.of.items() if i == index)

    def start(self, tickers: list[str]) -> None:
        """The selection known at start; refused when over the limits."""
        check_limits(len(set(tickers)), self.gather)
        self.assign(tickers)

    def assign(self, tickers: list[str]) -> dict[int, list[str]]:
        """New books to connections (least loaded first); beyond capacity they are left out."""
        placed: dict[int, list[str]] = {}
        room = min(capacity(self.gather), self.gather.selection.max_books or 1 << 62)
        for ticker in tickers:
            if ticker in self.of:
                continue
            if len(self.of) >= room:
                self.counts["left_out"] += 1
                if self.counts["left_out"] == 1:
                    log.error("gather: %s and any further market not subscribed: the selection"
                              " is at its limit (%d books)", ticker, room)
                continue
            index = min(range(len(self.load)), key=self.load.__getitem__)
            self.of[ticker] = index
            self.load[index] += 1
            placed.setdefault(index, []).append(ticker)
        return placed

    def release(self, tickers: list[str]) -> dict[int, list[str]]:
        gone: dict[int, list[str]] = {}
        for ticker in tickers:
            index = self.of.pop(ticker, None)
            if index is not None:
                self.load[index] -= 1
                gone.setdefault(index, []).append(ticker)
        return gone

    async def update(self, added: list[str], removed: list[str]) -> None:
        """The registry's selection changed: add and delete markets where they live."""
        for index, tickers in self.assign(added).items():
            await add_markets(self, self.connections[index], tickers)
        for index, tickers in self.release(removed).items():
            await delete_markets(self, self.connections[index], tickers)

    # -- what a Connection calls (its `plan`) -------------------------------------------
    async def subscribe_all(self, connection, session) -> None:
        """A fresh session: its global channels, then its books in shards of `cap`. The books
        are read before the first await: one added meanwhile gets its own subscription
        (kstore.gatherer.subscriptions.add_markets), never two."""
        markets = self.markets_for(connection.index)
        connection.breaks.keep_books(self.books())
        channels = self.globals_for(connection.index)
        if channels:
            await connection.subscribe(session, Subscription("firehose", []), channels)
        for channel in self.channels:
            for start in range(0, len(markets), self.cap):
                await connection.subscribe(
                    session, Subscription(channel, markets[start:start + self.cap]), [channel])

    async def refused(self, connection, session, message: dict) -> bool:
        """Error 26 handled here (True); any other error is left to kstore.gatherer.errors."""
        msg = message.get("msg") if isinstance(message.get("msg"), dict) else {}
        command = session.sent.get(message.get("id"))
        if msg.get("code") != MARKET_LIMIT or command is None:
            return False
        self.counts["error_26"] += 1
        if command[0] == "subscribe":
            await self._split(connection, session, session.pending.pop(message["id"], None))
        elif command[0] == "update_subscription":
            await self._move(connection, session, command[1] or {})
        return True

    async def _split(self, connection, session, subscription) -> None:
        if subscription is None:
            return
        markets = subscription.markets
        if len(markets) <= 1:
            log.error("gather: market %s left unsubscribed: exchange error 26",
                      ", ".join(markets) or "(none)")
            return
        self.cap = min(self.cap, len(markets) // 2)
        log.warning("gather: error 26: %d markets are too many for one subscription; "
                    "shards of %d from now on", len(markets), self.cap)
        for start in range(0, len(markets), self.cap):
            await connection.subscribe(session, type(subscription)(
                subscription.channel, markets[start:start + self.cap]), [subscription.channel])

    async def _move(self, connection, session, params: dict) -> None:
        """An add_markets refused: the markets go to a new subscription."""
        sids = params.get("sids") or [params.get("sid")]
        subscription = session.by_sid.get(sids[0])
        tickers = params.get("market_tickers") or []
        if subscription is None or not tickers:
            return
        subscription.markets = [t for t in subscription.markets if t not in set(tickers)]
        self.cap = max(1, min(self.cap, len(subscription.markets)))
        log.warning("gather: error 26 on add_markets: sid %s holds %d markets; shards of %d "
                    "from now on", sids[0], len(subscription.markets), self.cap)
        await _subscribe_new(connection, session, subscription.channel, tickers, self.cap)


async def add_markets(shards: Shards, connection, tickers: list[str]) -> None:
    """Markets join subscriptions with room on this connection (`add_markets`), the rest a new
    subscription; before the connection is up, its next session subscribes them anyway."""
    session = connection.session
    if session is None or not tickers:
        return
    connection.breaks.keep_books(shards.books())
    for channel in shards.channels:
        left = list(tickers)
        for sid, subscription in sorted(session.by_sid.items()):
            room = shards.cap - len(subscription.markets)
            if subscription.channel != channel or room <= 0 or not left:
                continue
            part, left = left[:room], left[room:]
            subscription.markets = [*subscription.markets, *part]
            shards.counts["added"] += len(part)
            await session.send("update_subscription", {
                "sids": [sid], "market_tickers": part, "action": "add_markets"})
        await _subscribe_new(connection, session, channel, left, shards.cap)


async def delete_markets(shards: Shards, connection, tickers: list[str]) -> None:
    """Markets leave the subscription that holds them (`delete_markets`)."""
    session = connection.session
    if session is None:
        return
    gone = set(tickers)
    for sid, subscription in list(session.by_sid.items()):
        part = [t for t in subscription.markets if t in gone]
        if subscription.channel in shards.channels and part:
            subscription.markets = [t for t in subscription.markets if t not in gone]
            shards.counts["removed"] += len(part)
            await session.send("update_subscription", {
                "sids": [sid], "market_tickers": part, "action": "delete_markets"})


async def _subscribe_new(connection, session, channel: str, tickers: list[str],
                         cap: int) -> None:
    for start in range(0, len(tickers), cap):
        await connection.subscribe(session, Subscription(channel, tickers[start:start + cap]),
                                   [channel])
