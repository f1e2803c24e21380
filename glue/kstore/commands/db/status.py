"""List every database: up or down, storage, address.

For checking the local setup or the configured DSNs: prints one line per database (each
gatherer's ts and rel databases, then production) with `up` or why it is down, its storage
(PostgreSQL or TimescaleDB) and its DSN without password. Exits 3 when any database is down.
"""

from __future__ import annotations

import argparse
import json

from kstore import topology
from kstore.settings import Settings

DOWN = 3  # exit code when a database does not answer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")


def run(args: argparse.Namespace, settings: Settings) -> int:
    rows = topology.status(settings)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        for row in rows:
            state = "up" if row["up"] else f"down ({row['error']})"
            print(f"{row['name']:<12} {state:<10} {row['storage'] or '':<28} {row['dsn']}")
    return 0 if all(row["up"] for row in rows) else DOWN
