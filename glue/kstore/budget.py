"""One process's REST read budget: a paced token bucket with priorities (decision 0065).

Guarantees: requests are granted one at a time, at least 1/rate seconds apart, so no window of
one second ever holds more than `rate` of them (the bucket holds one token: no bursts); a
waiting request of a more urgent priority is always granted before a less urgent one (registry
and lifecycle before reconcile before book polling); a 429 answer pauses every grant with an
exponential backoff (reset by the next success) and is counted. Counters live in `counts` as
plain integers; `metrics()` hands them to a Prometheus exporter (a gatherer's budget is
`Gatherer.rest.budget`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import Counter

# Priority of each kind of caller: lower is served first.
REGISTRY, RECONCILE, BOOKS = 0, 1, 2
PRIORITY_NAMES = {REGISTRY: "registry", RECONCILE: "reconcile", BOOKS: "books"}
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0


class Budget:
    def __init__(self, rate: float):
        if rate <= 0:
            raise ValueError("a REST budget needs a positive rate")
        self.rate = rate
        self.interval = 1.0 / rate
        self.next_at = 0.0  # monotonic time of the next grant
        self.waiting: list[tuple[int, int, asyncio.Future]] = []
        self.order = itertools.count()
        self.granter: asyncio.Task | None = None
        self.throttled_streak = 0
        self.counts: Counter = Counter()  # granted:<kind>, throttled, backoff_seconds (ms)

    async def acquire(self, priority: int = REGISTRY) -> None:
        """Wait for this request's turn; returns when it may be sent."""
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self.waiting, (priority, next(self.order), future))
        if self.granter is None or self.granter.done():
            self.granter = asyncio.create_task(self._grant())
        await future
        self.counts[f"granted:{PRIORITY_NAMES.get(priority, priority)}"] += 1

    async def _grant(self) -> None:
        while self.waiting:
            delay = self.next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # an urgent request arriving now still goes first
                continue
            _, _, future = heapq.heappop(self.waiting)
            if future.done():  # its caller gave up (cancelled)
                continue
            future.set_result(None)
            self.next_at = time.monotonic() + self.interval

    def throttled(self) -> float:
        """A 429: pause every grant (exponential backoff); returns the pause in seconds."""
        pause = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** self.throttled_streak)
        self.throttled_streak += 1
        self.counts["throttled"] += 1
        self.counts["backoff_ms"] += int(pause * 1000)
        self.next_at = max(self.next_at, time.monotonic() + pause)
        return pause

    def answered(self) -> None:
        """A non-429 answer ends a throttling streak."""
        self.throttled_streak = 0

    def metrics(self) -> dict:
        """What Prometheus exports (kstore_rest_*): reads per second allowed, requests waiting,
        requests granted per kind (a counter with label `kind`), 429 answers and seconds of
        backoff they caused (counters)."""
        return {"budget_reads_per_second": self.rate, "waiting": len(self.waiting),
                "requests": {name: self.counts[f"granted:{name}"]
                             for name in PRIORITY_NAMES.values()},
                "throttled": self.counts["throttled"],
                "backoff_seconds": self.counts["backoff_ms"] / 1000}
