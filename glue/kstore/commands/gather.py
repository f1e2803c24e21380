"""Capture the exchange's market data as one gatherer.

For each gatherer host (g1, g2, g3): connects to the Kalshi feed in the settings (or the
simulator), subscribes, and writes trades, order books, tickers and market data until Ctrl-C or
`--duration`; then flushes and prints a JSON summary of what it captured.
"""

from __future__ import annotations

import argparse
import json
import sys

from kstore.gatherer import run as gatherer
from kstore.gatherer.errors import CommandRefused
from kstore.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gatherer", required=True, help="gatherer id, e.g. g1")
    parser.add_argument("--duration", type=float, help="seconds to run, then flush and exit")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 1 with a one-line reason when a component could not recover or the exchange
    refused a command for good (the supervisor restarts the gatherer)."""
    try:
        summary = gatherer.run(settings, args.gatherer, args.duration)
    except gatherer.GatherFailed as exc:
        print(json.dumps(exc.summary, default=str))
        print(f"kstore: error: gatherer {args.gatherer}: {exc}", file=sys.stderr)
        return 1
    except CommandRefused as exc:
        print(f"kstore: error: gatherer {args.gatherer}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, default=str))
    return 0
