"""Refill a gatherer from another gatherer or production.

For operators after an outage: copies every row of a time range (`--since` to `--until`) that
the source holds and the target lacks into the target gatherer, one window at a time; rows the
target already has are skipped, so running it twice is harmless and an interrupted run can be
repeated. Prints one summary line.
"""

from __future__ import annotations

import argparse

from kstore import backfill
from kstore.settings import Settings

add_arguments = backfill.add_arguments


def run(args: argparse.Namespace, settings: Settings) -> int:
    return backfill.main(settings, args)
