"""`kstore query "SQL" [--format table|csv|json]`: DuckDB over the lake, file:// or s3://.

Views: raw_<table> for each folder of raw/ (raw_trades, raw_markets, …: the tables the
exporter writes, as production's catalog lists them), and one view per folder of processed/
and aggregates/, named after it (agg_candles_1m): the statements `kstore lake catalog --engine
duckdb` prints. Each reads its folder's Parquet with hive partitioning: `dt` (DATE) and, for
hourly tables, `hour` (INTEGER) are columns, and a filter on them skips whole files. A folder
without objects yet gets no view; a query naming it, or any raw_<table> the lake has no folder
for, fails with a line saying so. Production is never touched: the lake answers on its own.

Read-only, twice over: DuckDB's own parser classifies every statement of the query and anything
but a SELECT (with WITH, VALUES, DESCRIBE, SUMMARIZE, SHOW, PIVOT…) is refused with one line
before it runs (COPY, ATTACH, CREATE, INSERT, SET, LOAD, EXPORT, EXPLAIN ANALYZE…); and the
connection itself may touch no file outside the lake, attach no database file, load no
extension, and its configuration is locked.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import duckdb

from kstore.lake import catalog as lake_catalog
from kstore.lake.destination import Destination, open_lake, sql_literal
from kstore.settings import Settings

LAYERS = ("processed", "aggregates")  # every folder under these becomes a view of its name
FOLDER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
UNKNOWN_RAW = re.compile(r"Table with name (raw_([a-z0-9_]+)) does not exist")
READ_ONLY = frozenset({duckdb.StatementType.SELECT})


class Refused(ValueError):
    """A statement kstore query does not run: it is not a read."""


@dataclass
class Catalog:
    """The views defined (name → lake folder) and the folders that have no objects yet."""

    views: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)


def folders(lake: Destination) -> dict[str, str]:
    """View name → lake folder: every folder of raw/, processed/ and aggregates/."""
    found: dict[str, str] = {}
    for name in lake.folders("raw"):
        found.setdefault(f"raw_{name}", f"raw/{name}")
    for layer in LAYERS:
        for name in lake.folders(layer):
            found.setdefault(name, f"{layer}/{name}")
    return {view: prefix for view, prefix in found.items() if FOLDER_NAME.match(view)}


def define_views(con: duckdb.DuckDBPyConnection, lake: Destination) -> Catalog:
    catalog = Catalog()
    for view, prefix in folders(lake).items():
        sample = lake.first_key(prefix)
        if sample is None:
            catalog.missing[view] = prefix
            continue
        grain = "hour" if "/hour=" in sample else "day"
        table = lake_catalog.Table(view, prefix, grain, (), outer=outer_partitions(prefix, sample))
        con.execute(lake_catalog.duckdb_view(table, lake.uri("")))
        catalog.views[view] = prefix
    return catalog


def outer_partitions(prefix: str, key: str) -> tuple[tuple[str, str], ...]:
    """The string partitions a dataset keeps above its dt= folders (raw/frames: gatherer=)."""
    folders = key[len(prefix):].strip("/").split("/")[:-1]
    names = [folder.split("=", 1)[0] for folder in folders if "=" in folder]
    above = names[:names.index("dt")] if "dt" in names else []
    return tuple((name, "string") for name in above)


def connect(settings: Settings, lake: Destination | None = None
            ) -> tuple[duckdb.DuckDBPyConnection, Catalog]:
    """A DuckDB connection with the lake's views (and the catalog of what it defined), that
    reaches no file outside the lake and whose configuration is locked."""
    lake = lake or open_lake(settings)
    con = lake.connect()
    con.execute("set enable_external_file_cache = true")  # a query session may re-read files
    con.execute(lake_catalog.DUCKDB_SESSION)  # max(dt) over one file (decision 0086)
    catalog = define_views(con, lake)
    root = lake.uri("").rstrip("/") + "/"
    con.execute(f"set allowed_directories = [{sql_literal(root)}]")
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")
    return con, catalog


def check_read_only(query: str) -> None:
    """Refused when any statement of `query` is not a read, as DuckDB's parser classifies it
    (a syntax error is left for the run to report)."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error:
        return
    for statement in statements:
        if statement.type not in READ_ONLY:
            raise Refused(f"{statement.type.name} is not a read: kstore query only reads "
                          "(SELECT, WITH, VALUES, DESCRIBE, SUMMARIZE, SHOW)")


def run(con: duckdb.DuckDBPyConnection, query: str) -> tuple[list[str], list[tuple]]:
    check_read_only(query)
    relation = con.sql(query)
    if relation is None:
        return [], []
    return relation.columns, relation.fetchall()


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def render_table(columns: list[str], rows: list[tuple]) -> str:
    cells = [[_text(value) for value in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(row[i], (int, float, Decimal)) or row[i] is None
                                  for row in rows) for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return " | ".join(value.rjust(w) if num else value.ljust(w)
                          for value, w, num in zip(values, widths, numeric)).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    body = [line(row) for row in cells]
    footer = f"({len(rows)} row{'s' * (len(rows) != 1)})"
    return "\n".join([line(list(columns)), rule, *body, footer])


def write_csv(columns: list[str], rows: list[tuple], out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_text(value) for value in row] for row in rows)


def write_json(con: duckdb.DuckDBPyConnection, query: str, out) -> None:
    """A JSON array of objects, rendered by DuckDB (decimals stay exact numbers)."""
    check_read_only(query)
    relation = con.sql(query)
    lines = [] if relation is None else [
        text for (text,) in relation.set_alias("r").project("to_json(r)").fetchall()]
    out.write("[" + ",\n ".join(lines) + "]\n")


def explain_missing(error: duckdb.Error, catalog: Catalog) -> str | None:
    """Why a view the query names does not exist: its folder has no objects yet (a raw table
    the lake has no folder for: none either)."""
    message = str(error)
    missing = dict(catalog.missing)
    unknown = UNKNOWN_RAW.search(message)
    if unknown and unknown.group(1) not in catalog.views:
        missing.setdefault(unknown.group(1), f"raw/{unknown.group(2)}")
    for view, prefix in missing.items():
        if re.search(rf"\b{view}\b", message):
            return (f"view {view} is not defined: no objects under {prefix}/ in the lake yet "
                    f"(run `{writer(prefix)}`)")
    return None


def writer(prefix: str) -> str:
    """The command that writes a lake folder: raw/frames comes from the gatherers' journals,
    the dbt layers from the transform, every other raw dataset from the exporter."""
    if prefix.strip("/") == "raw/frames":
        return "kstore journal export"
    return "kstore transform" if prefix.split("/")[0] in LAYERS else "kstore export"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore query` (the CLI adds them to its subcommand)."""
    parser.add_argument("sql", help="the query; views: raw_trades, …, agg_<model>, …")
    parser.add_argument("--format", choices=["table", "csv", "json"], default="table")


def main(settings: Settings, args: argparse.Namespace) -> int:
    """`kstore query`: prints the result; 1 with one line on a bad query, a missing view or an
    unreachable lake."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        con, catalog = connect(settings)
    except (duckdb.Error, BotoCoreError, ClientError) as exc:
        print(f"kstore query: error: lake unreadable: {str(exc).strip().splitlines()[0]}",
              file=sys.stderr)
        return 1
    try:
        if args.format == "json":
            write_json(con, args.sql, sys.stdout)
            return 0
        columns, rows = run(con, args.sql)
        if args.format == "csv":
            write_csv(columns, rows, sys.stdout)
        elif columns:
            print(render_table(columns, rows))
        return 0
    except Refused as exc:
        print(f"kstore query: refused: {exc}", file=sys.stderr)
        return 1
    except duckdb.Error as exc:
        reason = explain_missing(exc, catalog) or str(exc).strip().splitlines()[0]
        print(f"kstore query: error: {reason}", file=sys.stderr)
        return 1
    finally:
        con.close()
