"""Stop the local databases; their data stays on disk."""

from __future__ import annotations

import argparse

from kstore import topology
from kstore.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace, settings: Settings) -> int:
    topology.down(settings)
    print("kstore: embedded clusters stopped")
    return 0
