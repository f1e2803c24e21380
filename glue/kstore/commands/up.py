"""Run the whole platform on this machine until Ctrl-C.

For trying kstore end to end: starts and migrates the local databases, then runs the simulated
exchange, one gatherer per configured id, the deduplicator, the lake export and, every few
minutes, the transform; a process that dies is restarted. With `--duration` the feed ends after
that many seconds, everything is flushed and merged, and it exits (then `kstore audit` can
check the result). Logs go to .kstore/logs/.
"""

from __future__ import annotations

import argparse

from kstore import up as platform
from kstore.settings import Settings

# Options passed on to the simulator: (flag, attribute of args).
SIMULATOR_OPTIONS = (("--seed", "seed"), ("--duration", "duration"), ("--truth", "truth"),
                     ("--faults", "faults"), ("--rate", "rate"), ("--markets", "markets"),
                     ("--disconnect-every", "disconnect_every"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, help="simulator seed")
    parser.add_argument("--duration", type=float, help="feed seconds, then flush, merge and exit")
    parser.add_argument("--truth", help="simulator truth file, for kstore audit")
    parser.add_argument("--faults",
                        help="simulator faults: gaps,disconnects,duplicates,malformed,slow")
    parser.add_argument("--rate", type=float, help="simulator events per second")
    parser.add_argument("--markets", type=int, help="simulator markets")
    parser.add_argument("--disconnect-every", type=float,
                        help="seconds between injected disconnects")


def run(args: argparse.Namespace, settings: Settings) -> int:
    simulate_args = [str(part) for flag, name in SIMULATOR_OPTIONS
                     if getattr(args, name) is not None for part in (flag, getattr(args, name))]
    return platform.run(settings, simulate_args, feed_ends=args.duration is not None)
