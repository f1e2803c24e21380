"""Query the lake with SQL (DuckDB), not production.

For analysts: every dataset in the lake is a view, e.g. raw_trades, raw_orderbook_deltas,
processed and aggregate models such as agg_candles_1m; filter on `dt` (and `hour`) to read
less. Read-only: anything but a SELECT (COPY, ATTACH, CREATE, INSERT, SET, …) is refused.
Prints a table, CSV or JSON. Example: kstore query "select count(*) from raw_trades"
"""

from __future__ import annotations

import argparse

from kstore.lake import query
from kstore.settings import Settings

add_arguments = query.add_arguments


def run(args: argparse.Namespace, settings: Settings) -> int:
    return query.main(settings, args)
