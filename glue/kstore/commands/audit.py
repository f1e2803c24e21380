"""Compare a database with what the simulator sent.

For tests and demos on the simulator: compares a gatherer's databases or production with the
truth file written by `kstore simulate --truth` (or `kstore up --truth`) and prints the
differences per table. Exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kstore import audit
from kstore.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--truth", required=True, help="JSONL written by kstore simulate --truth")
    parser.add_argument("--target", required=True, help="g1, g2, g3 or production")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace, settings: Settings) -> int:
    result = audit.audit(settings, audit.load_truth(Path(args.truth)), args.target)
    print(json.dumps(result, indent=2) if args.json else audit.render(result))
    return 0 if audit.clean(result) else 1
