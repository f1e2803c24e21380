"""Check the lake against its manifest, and repair what production can rebuild.

For operators, and on a schedule (`kstore export` also scrubs the least recently verified
objects every lake.scrub_interval): reads every verified lake object again (or those of windows
ending after `--since`, of one `--table`) and compares it with the manifest: it exists, has the
recorded size, sha256 and row count. A match renews the window's verification (production's
retention wants one within `verified_within`); a deleted, truncated or replaced object marks its
window unverified and is re-exported from production at once. Exits 1 when damage remains that
production cannot rebuild (ops.lake_health in production shows it to `kstore status`).
"""

from __future__ import annotations

import argparse

import duckdb

from kstore.lake import verify
from kstore.settings import Settings, SettingsError, utc_time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="only windows ending after this ISO time (UTC if no "
                        "offset); default: every verified window")
    parser.add_argument("--table", help="only this dataset (its manifest name: trades, "
                        "markets, aggregates.agg_candles_1m, ...)")
    parser.add_argument("--limit", type=int, help="at most this many objects, least recently "
                        "verified first")


def run(args: argparse.Namespace, settings: Settings) -> int:
    since = utc_time(args.since, "lake verify: --since") if args.since else None
    try:
        report = verify.run(settings, dataset=args.table, since=since, limit=args.limit)
    except duckdb.Error as exc:  # the lake or production unreachable: no verdict
        raise SettingsError(f"lake verify: {str(exc).strip().splitlines()[0]}") from None
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1
