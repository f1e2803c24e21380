"""Merge the gatherers' data into production, each row once.

For the production host: pulls every gatherer's new rows into production, skipping rows another
gatherer already delivered, and keeps doing so until Ctrl-C (or `--duration`); `--once` catches
up and exits. A gatherer that is down is skipped and resumed later. `init` (re)attaches the
gatherers to production, which `kstore migrate` also does.
"""

from __future__ import annotations

import argparse
import json

from kstore import dedup, topology
from kstore.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=["run", "init"], default="run",
                        help="run (default) or init: attach the gatherers to production")
    parser.add_argument("--once", action="store_true", help="catch up once, then exit")
    parser.add_argument("--duration", type=float, help="seconds to run, then exit")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "init":
        attached = dedup.attach(settings, topology.database(settings, topology.PRODUCTION))
        print(f"gatherers attached through postgres_fdw: {', '.join(attached)}")
        return 0
    print(json.dumps(dedup.run(settings, args.once, args.duration), default=str))
    return 0
