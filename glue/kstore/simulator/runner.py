"""Ways to run the simulator: `serve` (async), `run` (blocking, for the CLI) and
`SimulatorThread` (a background event loop, for tests and benchmarks written synchronously)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any, Callable

from .options import SimulatorOptions
from .replay import ReplayServer
from .server import Simulator


def make_server(options: SimulatorOptions) -> Simulator | ReplayServer:
    """The generating simulator, or the replay server when `options.replay` names a file."""
    return ReplayServer(options) if options.replay is not None else Simulator(options)


async def serve(options: SimulatorOptions) -> None:
    """Serve until `duration` elapses (forever without one) or the task is cancelled."""
    async with make_server(options) as sim:
        await sim.wait_stopped()


def run(options: SimulatorOptions) -> None:
    """Blocking entry point for `kstore simulate`; Ctrl-C stops it cleanly."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(options))


class SimulatorThread:
    """A Simulator on its own event loop thread: `with SimulatorThread(opts) as sim: sim.port`."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self.simulator: Simulator | ReplayServer | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="kstore-simulator", daemon=True)

    def start(self, timeout: float = 10.0) -> SimulatorThread:
        """Start and return once the port is bound; raises what startup raised."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("simulator did not start")
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.simulator = self._loop.run_until_complete(make_server(self.options).start())
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_until_complete(self.simulator.wait_stopped())
        leftovers = asyncio.all_tasks(self._loop)
        for task in leftovers:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        self._loop.close()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a plain function on the simulator's loop and return its result."""
        async def invoke() -> Any:
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(10)

    def wait(self, coro_fn: Callable[[Simulator], Any], timeout: float = 30.0) -> Any:
        """Await `coro_fn(simulator)` on the simulator's loop (e.g. lambda s: s.feed_done.wait())."""
        return asyncio.run_coroutine_threadsafe(coro_fn(self.sim), self._loop).result(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        if self.simulator is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.simulator.stop(), self._loop).result(timeout)
        self._thread.join(timeout)

    @property
    def sim(self) -> Simulator | ReplayServer:
        assert self.simulator is not None, "not started"
        return self.simulator

    @property
    def port(self) -> int:
        return self.sim.port

    @property
    def ws_url(self) -> str:
        return self.sim.ws_url

    @property
    def rest_url(self) -> str:
        return self.sim.rest_url

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
