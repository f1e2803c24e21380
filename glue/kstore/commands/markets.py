"""Show which markets the selection in the settings captures, before capturing.

Asks the exchange in the settings (Kalshi, or the simulator) what `gather.selection` selects:
the number of order books with counts per category, series and status, whether the configured
connections can carry them, and the REST budget they cost (the registry load, one round of
order books through the batch endpoint). Nothing is stored. Exits 1 when the selection exceeds
the configured limits. `--json` prints the same as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from kstore import survey
from kstore.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object")


def run(args: argparse.Namespace, settings: Settings) -> int:
    report = asyncio.run(survey.survey(settings))
    print(json.dumps(report) if args.json else survey.text(report))
    return 1 if report["refused"] else 0
