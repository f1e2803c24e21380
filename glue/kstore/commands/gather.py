"""Capture the exchange's market data as one gatherer.

For each gatherer host (g1, g2, g3): connects to the Kalshi feed in the settings (or the
simulator), subscribes, and writes trades, order books, tickers and market data until Ctrl-C or
`--duration`; then flushes and prints a JSON summary of what it captured.
"""

from __future__ import annotations

import argparse
import json

from kstore.gatherer import run as gatherer
from kstore.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gatherer", required=True, help="gatherer id, e.g. g1")
    parser.add_argument("--duration", type=float, help="seconds to run, then flush and exit")


def run(args: argparse.Namespace, settings: Settings) -> int:
    summary = gatherer.run(settings, args.gatherer, args.duration)
    print(json.dumps(summary, default=str))
    return 0
