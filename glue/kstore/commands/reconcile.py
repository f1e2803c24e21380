"""Check production's trades against the exchange's own record, and recover what all missed.

Pages through Kalshi's trade record (GET /markets/trades; /historical/trades for trades older
than the historical cutoff) for every whole UTC hour of `--since` to `--until` (default: the
scheduled window, `reconcile.lookback` seconds up to `reconcile.settle` seconds ago) and
compares it with production per market and hour: trades on the exchange, in production,
missing, unexpected, duplicated. Missing trades are written into a gatherer (`--into`, else
the first that answers) as REST-sourced rows for the deduplicator to merge; the report goes
to ops.reconciliation (per day: ops.reconciliation_summary). Running it again changes no data.
Exit 1 when production holds trades the exchange does not list, a trade twice, or missing
trades no gatherer could take.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from kstore import reconcile
from kstore.settings import Settings, utc_time

EXAMPLE = "2026-06-10T12:00:00Z"  # in the message of a --since/--until that is not a time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="ISO 8601 time (UTC without an offset)")
    parser.add_argument("--until", help="ISO 8601 time (exclusive; rounded up to the hour)")
    parser.add_argument("--ticker", action="append", dest="tickers", metavar="TICKER",
                        help="only this market (repeatable; default every market)")
    parser.add_argument("--into", help="gatherer that receives the missing trades")
    parser.add_argument("--json", action="store_true", help="print the totals as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    since, until = reconcile.scheduled_window(settings)
    since = utc_time(args.since, "reconcile: --since", EXAMPLE) if args.since else since
    until = utc_time(args.until, "reconcile: --until", EXAMPLE) if args.until else until
    report = asyncio.run(reconcile.run(settings, since, until, args.tickers, args.into))
    totals = report.totals | {"run_id": report.run_id, "since": report.since.isoformat(),
                              "until": report.until.isoformat(), "into": report.recovered_into}
    if args.json:
        print(json.dumps(totals))
    else:
        print(f"reconcile {totals['since']} .. {totals['until']}: "
              + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.totals.items())
              + f" (into {report.recovered_into or 'no gatherer'})")
    return 0 if report.clean() else 1
