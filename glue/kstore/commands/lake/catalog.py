"""Print the DDL that makes the lake's datasets tables in DuckDB, Spark, Athena or Trino.

For analysts moving to a bigger engine: one external table (or view) per dataset of the lake,
raw, processed and aggregates, with the lake's column types and its `dt`/`hour` partitions;
Athena's uses partition projection, so no crawler or MSCK REPAIR is needed. Example:
kstore lake catalog --engine athena --schema kstore > kstore.sql
"""

from __future__ import annotations

import argparse

from kstore.lake import catalog
from kstore.settings import Settings

add_arguments = catalog.add_arguments


def run(args: argparse.Namespace, settings: Settings) -> int:
    return catalog.main(settings, args)
