"""Run retention and compression; unarchived data is kept.

For operators (the platform's timer runs it periodically): on each database of `--target`,
drops only rows that are already merged into production (on a gatherer) or verified in the lake
(in production), compresses old data and creates upcoming day partitions. Prints every action.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from kstore import maintain, topology
from kstore.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", default="all", choices=list(topology.TARGET_KINDS),
                        help="which databases: gatherer, production or all (default)")
    parser.add_argument("--as-of", type=timestamp,
                        help="ISO timestamp to treat as now, in the past (default: now)")


def timestamp(text: str) -> datetime:
    """An ISO 8601 time (UTC when it names no zone); anything else is a one-line usage error."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO time: {text!r} (e.g. 2026-01-31T12:00:00+00:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def run(args: argparse.Namespace, settings: Settings) -> int:
    as_of = args.as_of
    for db in maintain.targets(settings, args.target):
        actions = maintain.run(db, as_of)
        for table, action, obj, detail in actions:
            print(f"{db.name}: {action} {obj} ({table}): {detail}")
        print(f"{db.name}: maintenance done, {len(actions)} action(s)")
    return 0
