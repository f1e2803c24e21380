"""The simulated exchange's REST rate limit, and its record of REST requests per second.

Every REST request is recorded under its wall-clock second (served or refused). With a limit,
a request that would make more than `limit` served requests within the last second (a sliding
window) is refused with 429 `{"error":"too many requests"}`, as Kalshi answers (no Retry-After).
Tests read `served`, `refused` and `max_window` to prove a client stayed within its budget.
"""

from __future__ import annotations

import time
from collections import Counter, deque


class RestMeter:
    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self.served: Counter = Counter()  # wall second -> requests answered
        self.refused: Counter = Counter()  # wall second -> 429 answers
        self.window: deque[float] = deque()  # times of the served requests of the last second
        self.max_window = 0  # most served requests ever seen within one second

    def admit(self, now: float | None = None) -> bool:
        """Record one request; False when it exceeds the limit (answer 429)."""
        now = time.monotonic() if now is None else now
        second = int(time.time())
        while self.window and self.window[0] <= now - 1.0:
            self.window.popleft()
        if self.limit is not None and len(self.window) + 1 > self.limit:
            self.refused[second] += 1
            return False
        self.window.append(now)
        self.served[second] += 1
        self.max_window = max(self.max_window, len(self.window))
        return True

    def summary(self) -> dict:
        return {"rest_requests": sum(self.served.values()), "rest_refused": sum(self.refused.values()),
                "rest_max_per_second": self.max_window}
