"""Rebuild a gatherer's rows for a time window from its raw frame journal.

After a parser fix, or for a table added later: every frame the gatherer journaled between
`--since` and `--until` (receive time, ISO 8601, UTC unless an offset is given) is parsed again
and its rows written with `on conflict do nothing`, so only missing rows are added and running
it twice adds nothing. The deduplicator then merges what is new. Prints frames read, rows
added, quarantined (`--json`: the same as JSON).
"""

from __future__ import annotations

import argparse
import json

from kstore import reparse
from kstore.settings import Settings, utc_time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gatherer", required=True, help="gatherer id, e.g. g1")
    parser.add_argument("--since", required=True, help="start of the window (receive time)")
    parser.add_argument("--until", required=True, help="end of the window (excluded)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    result = reparse.run(settings, args.gatherer, utc_time(args.since, "reparse: --since"),
                         utc_time(args.until, "reparse: --until"))
    print(json.dumps(result, default=str) if args.json else reparse.render(result))
    return 0
