"""`kstore lake catalog --engine athena|trino|spark|duckdb`: the DDL of every lake dataset.

Data-driven, like the exporter: the datasets are production's table catalog rows with a lake
grain (ops.catalog), the dbt models whose yml `meta.lake` exports them, and any other dataset
the manifest holds; the columns are production's, in the lake's types (layout.py), partitioned
as layout 2 writes them (`dt` DATE, `hour` INTEGER). A dataset added to the catalog or to dbt
shows up here with no change to this module. Table names are `kstore query`'s view names
(raw_trades, prc_trades, agg_candles_1m). Per engine:
- duckdb: views over read_parquet with typed hive partitions (what `kstore query` defines);
- spark: external Parquet tables with MSCK REPAIR TABLE (re-run it when new days arrive);
- athena: external tables with partition projection (no crawler, no MSCK REPAIR);
- trino: Hive connector tables over external_location, then sync_partition_metadata.
A dataset of which no object was written yet (say reconciliation before it found anything) is
declared all the same and reads as empty, so the whole script runs on a new lake: DuckDB gets
an empty view of its columns (read_parquet refuses a folder without files; run the script again
once the dataset has objects), Spark and Trino the table without the partition scan, which
fails on a missing folder (decision 0083).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlparse

import psycopg

from kstore import roles, topology
from kstore.lake import layout, manifest, windows
from kstore.lake.layout import Column
from kstore.settings import Settings, SettingsError, lake_url

ENGINES = ("athena", "trino", "spark", "duckdb")
# DuckDB 1.5.5 answers an ungrouped min/max of a hive partition column from the Parquet
# statistics when one file is left to read, and fails ("INTERNAL Error: Attempted to access
# index N within vector of size N", duckdb/duckdb#25629): sessions over the lake turn that
# optimizer off (decision 0086). Drop it once the pinned DuckDB has the fix.
DUCKDB_SESSION = "set disabled_optimizers = 'statistics_propagation';"
LAYERS = ("processed", "aggregates")  # a model's folder is named after it, so is its view


@dataclass(frozen=True)
class Table:
    """One lake dataset as engines see it: view/table name, lake folder, grain, columns, and
    the first day the manifest holds (where Athena's projection starts)."""

    name: str
    prefix: str
    grain: str
    columns: tuple[Column, ...]
    first_day: date | None = None
    outer: tuple[tuple[str, str], ...] = ()  # partitions above dt= (raw/frames: gatherer=)
    written: bool = True  # the exporter has written an object of it (its folder exists)

    @property
    def partitions(self) -> tuple[tuple[str, str], ...]:
        return self.outer + layout.PARTITIONS.get(self.grain, layout.PARTITIONS["day"])


def view_name(prefix: str) -> str:
    """raw/trades → raw_trades; processed/prc_trades → prc_trades (kstore query's names)."""
    layer, name = prefix.strip("/").split("/", 1)
    return name if layer in LAYERS else f"{layer}_{name}"


@dataclass(frozen=True)
class Source:
    """Where a dataset comes from: production's relation, its lake folder and grain."""

    relation: str
    prefix: str
    grain: str
    manifest_name: str


def sources(conn: psycopg.Connection, models: list[tuple[str, str | None, str]]
            ) -> list[Source]:
    """The raw datasets, the dbt models given as (relation, time column, grain), and every
    other dataset the manifest holds (folder from its object keys, grain from its windows)."""
    found = [Source(d.relation, d.prefix, d.granularity, d.manifest_name)
             for d in windows.raw(conn)]
    found += [Source(relation, relation.replace(".", "/"), grain, relation)
              for relation, _, grain in models]
    known = {source.manifest_name for source in found}
    rows = conn.execute(
        "select table_name, min(object_key), max(window_end - window_start)"
        " from ops.export_manifest where table_name like '%.%' group by 1 order by 1")
    for name, key, step in rows.fetchall():
        if name not in known:
            prefix = re.split(r"/(?:dt|date)=", key, maxsplit=1)[0]
            found.append(Source(name, prefix, "hour" if step.total_seconds() <= 3600 else "day",
                                name))
    return found


def tables(conn: psycopg.Connection, models: list[tuple[str, str | None, str]]) -> list[Table]:
    """Every dataset with its lake columns (production's relation) and first exported day; a
    dataset whose relation production no longer has is left out."""
    first = {name: (day, written) for name, day, written in conn.execute(
        "select table_name, min(window_start at time zone 'UTC')::date,"
        " bool_or(byte_count is not null) from ops.export_manifest group by 1").fetchall()}
    found = []
    for source in sources(conn, models):
        try:
            described = manifest.columns(conn, source.relation)
        except (LookupError, psycopg.errors.UndefinedTable):
            continue
        day, written = first.get(source.manifest_name, (None, False))
        found.append(Table(view_name(source.prefix), source.prefix.strip("/"), source.grain,
                           tuple(layout.columns(described)), day, written=written))
    return found


# ---------------------------------------------------------------- types per engine

SPELLING = {  # logical type → (duckdb, spark, athena, trino)
    "string": ("VARCHAR", "STRING", "string", "varchar"),
    "bigint": ("BIGINT", "BIGINT", "bigint", "bigint"),
    "int": ("INTEGER", "INT", "int", "integer"),
    "smallint": ("SMALLINT", "SMALLINT", "smallint", "smallint"),
    "boolean": ("BOOLEAN", "BOOLEAN", "boolean", "boolean"),
    "double": ("DOUBLE", "DOUBLE", "double", "double"),
    "float": ("FLOAT", "FLOAT", "float", "real"),
    "date": ("DATE", "DATE", "date", "date"),
    "timestamp": ("TIMESTAMPTZ", "TIMESTAMP", "timestamp", "timestamp(6)"),
    "binary": ("BLOB", "BINARY", "binary", "varbinary"),
}
DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


def spell(kind: str, engine: str) -> str:
    """A logical lake type in `engine`'s DDL."""
    index = ("duckdb", "spark", "athena", "trino").index(engine)
    if kind.startswith("array<"):
        element = spell(kind[6:-1], engine)
        return (f"{element}[]", f"ARRAY<{element}>", f"array<{element}>",
                f"array({element})")[index]
    if DECIMAL.match(kind):
        precision, scale = DECIMAL.match(kind).groups()
        return f"{'DECIMAL' if index < 2 else 'decimal'}({precision},{scale})"
    return SPELLING[kind][index]


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def location(root: str, table: Table, engine: str) -> str:
    """The table's folder under the lake root (file:///path or s3://bucket/prefix) as `engine`
    names it: Spark reads s3a://, DuckDB a local lake by its path."""
    base = root.rstrip("/") + "/" + table.prefix
    if engine == "spark" and base.startswith("s3://"):
        return "s3a://" + base[len("s3://"):]
    if engine == "duckdb" and base.startswith("file://"):
        return urlparse(base).path
    return base


def column_list(table: Table, engine: str, partitions: bool) -> str:
    quote = '"' if engine in ("duckdb", "trino") else "`"
    entries = [(c.name, c.kind) for c in table.columns]
    entries += list(table.partitions) if partitions else []
    return ",\n".join(f"    {quote}{name}{quote} {spell(kind, engine)}" for name, kind in entries)


# ---------------------------------------------------------------- one statement per engine

def unwritten(table: Table, then: str) -> str:
    """One comment line, without a semicolon: a script split at each `;` keeps its statements."""
    return f"-- {table.name} has no object yet: {then.rstrip(';')} once it has one\n"


def then_scan(table: Table, create: str, scan: str) -> str:
    """`create`, then the statement that finds the partitions, which fails on a missing folder:
    for a dataset with no object yet, a comment says to run it later."""
    return f"{create}\n{scan}" if table.written else unwritten(table, scan) + create


def duckdb_view(table: Table, root: str, schema: str | None = None) -> str:
    name = f"{schema}.{table.name}" if schema else table.name
    if not table.written:
        entries = [(c.name, c.kind) for c in table.columns] + list(table.partitions)
        columns = ", ".join(f'null::{spell(kind, "duckdb")} as "{column}"'
                            for column, kind in entries)
        return (unwritten(table, "run this script again") +
                f"create or replace view {name} as select {columns} where false;")
    types = ", ".join(f"'{name}': '{spell(kind, 'duckdb')}'" for name, kind in table.partitions)
    pattern = location(root, table, "duckdb") + "/" + "*/" * len(table.partitions) + "*.parquet"
    return (f"create or replace view {name} as select * from read_parquet({literal(pattern)}, "
            f"hive_partitioning = true, hive_types = {{{types}}}, union_by_name = true);")


def spark_table(table: Table, root: str, schema: str | None = None) -> str:
    name = f"{schema}.{table.name}" if schema else table.name
    keys = ", ".join(name for name, _ in table.partitions)
    create = (f"CREATE TABLE IF NOT EXISTS {name} (\n{column_list(table, 'spark', True)}\n)"
              f"\nUSING PARQUET\nPARTITIONED BY ({keys})\n"
              f"LOCATION {literal(location(root, table, 'spark'))};")
    return then_scan(table, create, f"MSCK REPAIR TABLE {name};")


def athena_table(table: Table, root: str, schema: str | None = None) -> str:
    name = f"{schema}.{table.name}" if schema else table.name
    folder = location(root, table, "athena")
    first = (table.first_day or date.today()).isoformat()
    keys = ", ".join(f"`{key}` {spell(kind, 'athena')}" for key, kind in table.partitions)
    projection = {"projection.enabled": "true", "projection.dt.type": "date",
                  "projection.dt.format": "yyyy-MM-dd", "projection.dt.range": f"{first},NOW",
                  "projection.dt.interval": "1", "projection.dt.interval.unit": "DAYS"}
    template = folder + "/dt=${dt}/"
    if len(table.partitions) > 1:
        projection |= {"projection.hour.type": "integer", "projection.hour.range": "0,23"}
        template += "hour=${hour}/"
    projection["storage.location.template"] = template
    properties = ",\n".join(f"    {literal(k)} = {literal(v)}" for k, v in projection.items())
    return (f"CREATE EXTERNAL TABLE IF NOT EXISTS {name} (\n"
            f"{column_list(table, 'athena', False)}\n)\nPARTITIONED BY ({keys})\n"
            f"STORED AS PARQUET\nLOCATION {literal(folder + '/')}\n"
            f"TBLPROPERTIES (\n{properties}\n);")


def trino_table(table: Table, root: str, schema: str | None = None) -> str:
    name = f"hive.{schema}.{table.name}"
    keys = ", ".join(f"'{key}'" for key, _ in table.partitions)
    create = (f"CREATE TABLE IF NOT EXISTS {name} (\n{column_list(table, 'trino', True)}\n)"
              f"\nWITH (\n    external_location = {literal(location(root, table, 'trino'))},\n"
              f"    format = 'PARQUET',\n    partitioned_by = ARRAY[{keys}]\n);")
    return then_scan(table, create, f"CALL hive.system.sync_partition_metadata("
                     f"{literal(schema)}, {literal(table.name)}, 'FULL');")


RENDER: dict[str, Callable[[Table, str, str | None], str]] = {
    "duckdb": duckdb_view, "spark": spark_table, "athena": athena_table, "trino": trino_table}
PREAMBLE = {
    "duckdb": "-- DuckDB: views over the lake (run in a session that can read it: httpfs + an S3 "
              "secret for s3://)\nset TimeZone = 'UTC';\n" + DUCKDB_SESSION,
    "spark": "-- Spark SQL: external Parquet tables (spark.sql.session.timeZone=UTC reads the "
             "times as UTC)",
    "athena": "-- Athena: external tables with partition projection (no crawler, no MSCK "
              "REPAIR); times are UTC",
    "trino": "-- Trino (Hive connector, catalog `hive`): times are UTC microseconds\n"
             "SET SESSION hive.timestamp_precision = 'MICROSECONDS';",
}


SCHEMA = {
    "duckdb": "create schema if not exists {};", "spark": "CREATE DATABASE IF NOT EXISTS {};",
    "athena": "CREATE DATABASE IF NOT EXISTS {};", "trino": "CREATE SCHEMA IF NOT EXISTS hive.{};",
}


def render(engine: str, found: list[Table], root: str, schema: str | None = None) -> str:
    """The whole script for `engine`: a preamble, the schema (if any; Trino's is `kstore` by
    default) and one statement (or two) per dataset."""
    schema = schema or ("kstore" if engine == "trino" else None)
    parts = [PREAMBLE[engine]] + ([SCHEMA[engine].format(schema)] if schema else [])
    parts += [RENDER[engine](table, root, schema) for table in found]
    return "\n\n".join(parts) + "\n"


def lake_tables(settings: Settings) -> list[Table]:
    """Every dataset of the lake these settings point at (production as kstore_analyst; the
    dbt models from the last build's manifest, when there was one)."""
    from kstore import transform

    try:
        models = transform.lake_models(settings)
    except SettingsError:  # no dbt build here: exported models still come from the manifest
        models = []
    dsn = topology.dsn_for(settings, topology.PRODUCTION, roles.ANALYST)
    with manifest.connect(dsn) as conn:
        return tables(conn, models)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore lake catalog` (the CLI adds them to its subcommand)."""
    parser.add_argument("--engine", choices=ENGINES, default="duckdb",
                        help="the engine whose DDL to print (default duckdb)")
    parser.add_argument("--location", help="the lake root as the engine reaches it (default: "
                        "lake.url, e.g. file:///srv/lake or s3://bucket/prefix)")
    parser.add_argument("--schema", help="create the tables in this schema/database "
                        "(Trino: default kstore in catalog hive)")


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Prints the DDL; 1 with one line when production cannot be read."""
    try:
        found = lake_tables(settings)
    except (psycopg.Error, LookupError) as exc:
        print(f"kstore lake catalog: error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    print(render(args.engine, found, args.location or lake_url(settings), args.schema), end="")
    return 0
