"""Run retention and compression; unarchived data is kept.

For operators (the platform's timer runs it periodically): on each database of `--target`,
drops only rows that are already merged into production (on a gatherer) or verified in the lake
(in production), compresses old data and creates upcoming day partitions. Prints every action.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from kstore import maintain, topology
from kstore.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", default="all", choices=list(topology.TARGET_KINDS),
                        help="which databases: gatherer, production or all (default)")
    parser.add_argument("--as-of", help="ISO timestamp to treat as now (default: now)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    as_of = datetime.fromisoformat(args.as_of) if args.as_of else None
    for db in maintain.targets(settings, args.target):
        actions = maintain.run(db, as_of)
        for table, action, obj, detail in actions:
            print(f"{db.name}: {action} {obj} ({table}): {detail}")
        print(f"{db.name}: maintenance done, {len(actions)} action(s)")
    return 0
