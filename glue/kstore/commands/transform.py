"""Build candles and daily stats, then archive them.

For the production host, periodically: runs the dbt project against production (models and
their tests), then exports the processed and aggregate layers to the lake. `--freshness` only
reports how recent the captured data is. Exits non-zero when a model or test fails.
"""

from __future__ import annotations

import argparse

from kstore import transform
from kstore.settings import Settings

add_arguments = transform.add_arguments


def run(args: argparse.Namespace, settings: Settings) -> int:
    return transform.main(settings, args)
