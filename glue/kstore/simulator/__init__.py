"""Kalshi exchange simulator: WebSocket v2 + the REST v2 endpoints a gatherer uses, on one port.

Deterministic from a seed (see generator.py), with per-connection faults (faults.py), optional
RSA-PSS request verification (kstore.kalshi_auth) and a truth file of every emitted event (truth.py).

    from kstore.simulator import SimulatorOptions, Simulator, SimulatorThread, run
    run(SimulatorOptions(seed=1, rate=20_000, faults="gaps,duplicates"))      # blocking (CLI)
    async with Simulator(SimulatorOptions(port=0)) as sim: ...sim.ws_url...    # in asyncio
    with SimulatorThread(SimulatorOptions(port=0)) as sim: ...sim.rest_url...  # sync tests
    SimulatorOptions(port=0, replay=Path("f.jsonl"))  # run/serve/SimulatorThread: replay a file

Module map: options (SimulatorOptions, argparse glue), universe (series/events/markets), book
(order books), generator + lifecycle (the event stream), frames (wire shapes), commands (WS
commands), session (one connection), faults, rest + rest_objects, truth, server, runner;
replay (ReplayServer), replay_file (the frame-file format) and replay_universe (its REST side).
"""

from .options import DEFAULT_PORT, FAULTS, SimulatorOptions, add_arguments, options_from_args
from .replay import ReplayServer
from .replay_file import ReplayFileError
from .runner import SimulatorThread, make_server, run, serve
from .server import WS_PATH, Simulator

__all__ = [
    "DEFAULT_PORT",
    "FAULTS",
    "ReplayFileError",
    "ReplayServer",
    "WS_PATH",
    "Simulator",
    "SimulatorOptions",
    "SimulatorThread",
    "add_arguments",
    "make_server",
    "options_from_args",
    "run",
    "serve",
]
