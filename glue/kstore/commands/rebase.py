"""Merge a gatherer again after restoring it into a new cluster (its transaction ids restarted).

For the production host, after `pg_restore` of a gatherer's databases into a new cluster and
`kstore migrate` (which points production's postgres_fdw servers at it): re-reads every row
the gatherer holds (or those received since `--since`) into production, where rows already
merged stay once, and restarts that gatherer's cursors from its new transaction ids. Run it
before the deduplicator and the gatherer's maintenance resume. Prints one line per table.
See docs/operations.md.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from kstore import restore
from kstore.settings import Settings, SettingsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gatherer", required=True, help="the restored gatherer, e.g. g1")
    parser.add_argument("--since", help="ISO time: re-read only rows received since then "
                        "(before the dump was taken; default: every row the gatherer holds)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    since = _time(args.since) if args.since else None
    for row in restore.rebase(settings, args.gatherer, since):
        print(f"{args.gatherer}/{row['table']}: re-read {row['rows_read']}, new "
              f"{row['rows_inserted']}, cursor {row['next_xid']}")
    print(f"{args.gatherer}: rebased; start the deduplicator")
    return 0


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"--since: {text!r} is not an ISO time") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
