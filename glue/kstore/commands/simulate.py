"""Run a Kalshi-compatible exchange on this machine.

For trying kstore, tests and benchmarks without a Kalshi account: serves the WebSocket feed
and the REST endpoints kstore uses on localhost, deterministic from a seed, with knobs for
rate, markets, faults and disconnects. Runs until Ctrl-C or `--duration`.
"""

from __future__ import annotations

import argparse

from kstore import simulator
from kstore.settings import Settings

add_arguments = simulator.add_arguments


def run(args: argparse.Namespace, settings: Settings) -> int:
    simulator.run(simulator.options_from_args(args))
    return 0
