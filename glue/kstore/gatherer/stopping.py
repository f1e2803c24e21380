"""How a gatherer stops (decision 0022): waits that end early when the stop event is set,
work bounded by a deadline (what does not finish is cancelled and logged, never waited for),
SIGTERM/SIGINT handlers that set the stop, and the hard exit of the CLI process when the
shutdown bound runs out, whatever the event loop is doing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

log = logging.getLogger("kstore.gather")


async def wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True when stop was set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
        return True
    except asyncio.TimeoutError:
        return False


async def stop_after(stop: asyncio.Event, seconds: float) -> None:
    await wait(stop, seconds)
    stop.set()


async def unless_stopped(stop: asyncio.Event, awaitable):
    """The awaitable's result, or None (it is cancelled) when `stop` is set first."""
    task = asyncio.ensure_future(awaitable)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not task.done():
        task.cancel()
        return None
    return task.result()


async def within_quietly(awaitable, seconds: float) -> None:
    try:
        await asyncio.wait_for(awaitable, seconds)
    except (TimeoutError, asyncio.TimeoutError):
        pass


async def within(what: str, awaitable, seconds: float) -> bool:
    """True when the awaitable finished within `seconds` (else it is cancelled and logged)."""
    try:
        await asyncio.wait_for(awaitable, seconds)
        return True
    except (TimeoutError, asyncio.TimeoutError):
        log.error("gather: shutdown: %s did not finish within %.1f s; left", what, seconds)
        return False


def on_signals(stop: asyncio.Event, signalled) -> dict:
    """SIGTERM/SIGINT call `signalled` and stop the gatherer; returns the handlers replaced.
    A plain signal handler: the hard exit it arms (CLI process) cannot be delayed by a wedged
    event loop."""
    loop = asyncio.get_running_loop()

    def handler(signum, frame) -> None:
        signalled()
        if not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}


def hard_exit(bound: float) -> None:
    log.critical("gather: shutdown did not finish within %g s; exiting with what is committed",
                 bound)
    logging.shutdown()
    os._exit(3)
