"""Backoff and supervision for the gatherer's background tasks (decision 0022).

No background task dies silently: `supervise` runs a component's loop; an unexpected exception
is logged (once per streak of identical failures), counted in `Health` (the status line shows
it) and the loop is started again after a backoff. A component that keeps crashing without ever
running `healthy_after` seconds is declared failed: `Health.failed` is set, and the gatherer
stops and exits non-zero so its supervisor (systemd, `kstore up`) restarts the process.
(tenacity is not in the environment; this is the small part of it we need.)
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger("kstore.gather")


@dataclass
class Backoff:
    """Exponential backoff with jitter: 'first', doubling up to 'ceiling'; reset() on success."""

    first: float = 0.2
    ceiling: float = 30.0
    attempt: int = 0

    def next(self) -> float:
        delay = min(self.ceiling, self.first * 2 ** self.attempt)
        self.attempt += 1
        return delay * (0.5 + random.random() / 2)

    def reset(self) -> None:
        self.attempt = 0

    async def sleep(self) -> None:
        await asyncio.sleep(self.next())


@dataclass
class Health:
    """Failures by component (the status line's `errors`), and the first unrecoverable one."""

    errors: Counter = field(default_factory=Counter)
    failed: str | None = None
    stop: asyncio.Event | None = None

    def fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason
            log.critical("gather: %s; stopping so that the supervisor restarts the gatherer",
                         reason)
        if self.stop is not None:
            self.stop.set()

    def summary(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in sorted(self.errors.items())) or "0"


async def supervise(name: str, factory, health: Health, stop: asyncio.Event,
                    max_crashes: int = 5, healthy_after: float = 60.0) -> None:
    """Runs `factory()` (a coroutine function) until it returns or `stop` is set; restarts it
    after any exception, with backoff; `max_crashes` crashes in a row make it unrecoverable."""
    backoff, crashes, last = Backoff(first=0.5), 0, None
    while not stop.is_set():
        started = time.monotonic()
        try:
            await factory()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 -- any failure is logged, counted, retried
            health.errors[name] += 1
            if time.monotonic() - started >= healthy_after:
                crashes = 0
                backoff.reset()
            crashes += 1
            text = f"{type(exc).__name__}: {first_line(exc)}"
            if text != last:
                log.error("gather: %s failed (%s); restarting it", name, text)
                last = text
            if crashes >= max_crashes:
                health.fail(f"{name} failed {crashes} times in a row ({text})")
                return
            await asyncio.sleep(backoff.next())


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""
