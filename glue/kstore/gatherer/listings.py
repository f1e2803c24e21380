"""Markets listed while the gatherer could not see it (decision 0085).

Contract: a gatherer learns of a new market from its `created` lifecycle frame and subscribes
its book at once. When that frame is lost (a reconnect, a dropped frame: the lifecycle channel
has no seq), two things keep the loss short and visible:
- the lifecycle channel subscribed again (after a reconnect or a dropped subscription) makes
  the registry ask REST at once what changed, instead of at its next refresh;
- a market that enters the selection after the registry's first load without us having seen
  it listed (by a REST answer; or by a lifecycle frame other than `created` about a market we
  have no row of) may have traded unseen: its book is a feed_gaps row, cause
  `not_subscribed`, from its listing (REST created_time, the earliest it could trade; null
  when unknown) until its first snapshot, which resumes and recovers it (breaks.py).
"""

from __future__ import annotations

from datetime import datetime, timezone

from kstore.gatherer.breaks import NOT_SUBSCRIBED, Break, OpenBreaks

LIFECYCLE_CHANNEL = "market_lifecycle_v2"


class Listings:
    def __init__(self, registry, breaks: OpenBreaks, connection, spawn) -> None:
        self.registry, self.breaks, self.connection, self.spawn = registry, breaks, connection, spawn
        self.lifecycle_subscribed = 0  # times the lifecycle channel was subscribed this run
        registry.on_late = self.late

    def subscribed(self, message: dict) -> None:
        """A `subscribed` reply; after the lifecycle channel's first, each one means frames
        were lost meanwhile: refresh the registry now."""
        msg = message.get("msg") if isinstance(message, dict) else None
        if not isinstance(msg, dict) or msg.get("channel") != LIFECYCLE_CHANNEL:
            return
        self.lifecycle_subscribed += 1
        if self.lifecycle_subscribed > 1:
            self.spawn(self.registry.refresh())

    def late(self, listed: dict[str, datetime | None]) -> None:
        """Markets entering the selection that traded before we knew them: one break per book
        (connection: the one carrying the lifecycle channel; sid 0: no subscription held it)."""
        session, now = self.connection.session, datetime.now(timezone.utc)
        connection_id = session.connection_id if session is not None else ""
        self.breaks.not_subscribed([
            Break(connection_id, 0, "orderbook_delta", NOT_SUBSCRIBED, ticker, since, now)
            for ticker, since in listed.items()])


def rest_time(text) -> datetime | None:
    """A REST time (RFC 3339) as a datetime; None when absent or unreadable."""
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
