"""Breaks in the feed other than seq jumps: reconnects and subscriptions the exchange dropped.

Contract (decision 0021): when a connection ends (silence, close by the server, error) every
subscription it carried is a break, one per order book for a book subscription and one per
other channel; when the exchange drops a subscription (error 25, or an unknown sid) each of its
books is a break. A break is a feed_gaps row written at once (cause, last frame received before
it), marked resumed at the first frame after it (the next connection's first frame, or the
`subscribed` reply of the new subscription), and recovered when the data can be trusted again:
a fresh snapshot of that book, or the channel subscribed again.

A market that enters the selection during a run without its `created` frame reaching us
(decision 0085) is a break of its book too, cause `not_subscribed`: from its listing (REST
created_time, or null: unknown) until its first snapshot, which resumes and recovers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


NOT_SUBSCRIBED = "not_subscribed"


@dataclass
class Break:
    """One feed_gaps row that is not a seq jump (the columns GapLog writes)."""

    connection_id: str
    sid: int
    channel: str
    cause: str
    market_ticker: str | None
    last_frame_at: datetime | None
    detected_at: datetime
    expected_seq: int | None = None
    received_seq: int | None = None
    gap_id: int | None = None


class OpenBreaks:
    """Breaks not yet resumed or recovered; `log` is the GapLog that writes them."""

    def __init__(self, log):
        self.log = log
        self.waiting_frame: list[Break] = []
        self.waiting_subscribed: dict[str, list[Break]] = {}
        self.books: dict[str, list[Break]] = {}
        self.channels: dict[str, list[Break]] = {}

    @property
    def open(self) -> int:
        return sum(len(found) for found in (*self.books.values(), *self.channels.values()))

    def add(self, breaks: list[Break], reconnect: bool) -> None:
        """Writes the breaks; a reconnect's resume at the next connection's first frame, a
        dropped subscription's when its channel is `subscribed` again."""
        for found in breaks:
            self.log.detected(found)
            if found.market_ticker is not None:
                self.books.setdefault(found.market_ticker, []).append(found)
            else:
                self.channels.setdefault(found.channel, []).append(found)
            if not reconnect:
                self.waiting_subscribed.setdefault(found.channel, []).append(found)
        if reconnect:
            self.waiting_frame += breaks

    def frame(self, at: datetime) -> None:
        if self.waiting_frame:
            for found in self.waiting_frame:
                self.log.resumed(found, at)
            self.waiting_frame = []

    def subscribed(self, channel: str, at: datetime) -> None:
        for found in self.waiting_subscribed.pop(channel, []):
            self.log.resumed(found, at)
        for found in self.channels.pop(channel, []):
            self.log.recovered(found, "resubscribe")

    def keep_books(self, markets: set[str]) -> None:
        """Forgets the open breaks of books no longer subscribed: their rows stay open (never
        re-based), and memory stays bounded by the markets subscribed."""
        self.books = {m: found for m, found in self.books.items() if m in markets}

    def not_subscribed(self, breaks: list[Break]) -> None:
        """Books that were in no subscription while their market traded: written now, resumed
        and recovered by their first snapshot."""
        for found in breaks:
            self.log.detected(found)
            self.books.setdefault(found.market_ticker, []).append(found)

    def snapshot(self, market: str, at: datetime | None = None) -> None:
        for found in self.books.pop(market, []):
            if found.cause == NOT_SUBSCRIBED and at is not None:
                self.log.resumed(found, at)
            self.log.recovered(found, "subscribe" if found.cause == NOT_SUBSCRIBED
                               else "resubscribe")
