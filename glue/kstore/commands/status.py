"""Show databases up or down and the merge's lag per gatherer.

For operators: one line per database, then per gatherer and table the deduplicator's lag,
rows merged, share of duplicates, whether the gatherer has stopped capturing, and its last
error. `--json` prints the same for scripts and monitoring.
"""

from __future__ import annotations

import argparse
import json

from kstore import dedup, topology
from kstore.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")


def run(args: argparse.Namespace, settings: Settings) -> int:
    found = collect(settings)
    if args.json:
        print(json.dumps(found, indent=2, default=str))
    else:
        print(render(found))
    return 0


def collect(settings: Settings) -> dict[str, list[dict]]:
    """Every database's state and, when production answers, every dedup cursor's."""
    databases = topology.status(settings)
    production_up = any(row["name"] == topology.PRODUCTION and row["up"] for row in databases)
    return {"databases": databases, "dedup": dedup.status(settings) if production_up else []}


def render(found: dict[str, list[dict]]) -> str:
    lines = [f"{row['name']:<12} {'up' if row['up'] else 'DOWN':<5} {row['storage'] or ''}"
             for row in found["databases"]]
    for row in found["dedup"]:
        lag = "?" if row["lag_s"] is None else f"{row['lag_s']:.1f}s"
        lines.append(f"dedup {row['gatherer']}/{row['table']:<20} lag {lag:>8}  merged "
                     f"{row['rows_merged']:>10}  duplicates {row['duplicate_rate']:.1%}  "
                     f"{'stopped ' if row['capture_stopped_at'] else ''}{row['last_error'] or ''}")
    return "\n".join(lines)
