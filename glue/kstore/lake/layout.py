"""The lake's layout: what every object looks like, so that DuckDB, Spark, Trino, Athena, pyarrow
and polars read it with the same types (decision 0040). This is layout version 2:

- folders `dt=YYYY-MM-DD/` and, for hourly windows, `hour=H/` (an unpadded integer 0-23):
  partition names no engine needs to quote, values every engine parses as DATE and INTEGER;
- identifiers (uuid) and documents (jsonb) as strings, prices and sizes as DECIMAL(p,s) exactly
  as declared in production (an unconstrained numeric as DECIMAL(38,10)), times as UTC
  microsecond timestamps (Parquet TIMESTAMP(isAdjustedToUTC=true, MICROS)), arrays as lists;
- rows of a window ordered by its time column (no total order: a re-export holds the same rows,
  not necessarily the same bytes);
- the version in every object's footer (key-value metadata `kstore.layout`) and in the
  manifest (ops.export_manifest.layout_version).

Layout 1 (until V0035) used `date=`/`hour=HH` folders and wrote uuid as Parquet UUID, which
Spark rejects. A change of anything above is a new version, a migration and a decision.
`Column` turns production's column types into the lake's; catalog.py renders them per engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSION = 2
PARTITIONS = {  # grain → the partition columns of its folders, with their logical types
    "hour": (("dt", "date"), ("hour", "int")),
    "day": (("dt", "date"),),
    "snapshot": (("dt", "date"),),
}
FOOTER = {"kstore.layout": str(VERSION)}
UNCONSTRAINED_NUMERIC = "decimal(38,10)"

# production type → (logical lake type, the cast production applies before DuckDB reads it)
SCALARS = {
    "text": ("string", None), "uuid": ("string", "text"), "jsonb": ("string", "text"),
    "json": ("string", "text"), "bigint": ("bigint", None), "integer": ("int", None),
    "smallint": ("smallint", None), "boolean": ("boolean", None),
    "double precision": ("double", None), "real": ("float", None), "date": ("date", None),
    "timestamp with time zone": ("timestamp", None), "bytea": ("binary", None),
    "numeric": (UNCONSTRAINED_NUMERIC, "numeric(38, 10)"),
}
VARCHAR = re.compile(r"^(character varying|character)(\(\d+\))?$")
NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")


@dataclass(frozen=True)
class Column:
    """One exported column: its name, its logical lake type (string, bigint, int, smallint,
    boolean, double, float, date, timestamp, binary, decimal(p,s), array<…>) and the SQL that
    production runs to produce it. `read`/`finish` are how the exporter moves it (decision
    0082): a uuid travels as 16 bytes and DuckDB writes it as the same string production's
    cast would give (half the bytes to encode, send and sort); every other column is `select`
    with nothing to finish."""

    name: str
    kind: str
    select: str
    native: bool = False  # a scalar uuid: production sends it uncast, DuckDB casts it

    @classmethod
    def of(cls, name: str, pg_type: str) -> Column:
        kind, cast = lake_type(pg_type)
        quoted = '"' + name.replace('"', '""') + '"'
        return cls(name, kind, f"{quoted}::{cast} as {quoted}" if cast else quoted,
                   pg_type == "uuid")

    @property
    def read(self) -> str:
        """What production sends for this column."""
        return '"' + self.name.replace('"', '""') + '"' if self.native else self.select

    @property
    def finish(self) -> str | None:
        """DuckDB's cast of what production sent to the lake type (None: nothing to do)."""
        quoted = '"' + self.name.replace('"', '""') + '"'
        return f"{quoted}::varchar as {quoted}" if self.native else None


def lake_type(pg_type: str) -> tuple[str, str | None]:
    """(logical type, cast or None) of a production type (format_type's spelling)."""
    spelled = pg_type.replace(", ", ",")
    if spelled.endswith("[]"):
        element, cast = lake_type(spelled[:-2])
        return f"array<{element}>", (cast + "[]" if cast else None)
    if spelled in SCALARS:
        return SCALARS[spelled]
    if VARCHAR.match(spelled):
        return "string", None
    if NUMERIC.match(spelled):
        precision, scale = NUMERIC.match(spelled).groups()
        return f"decimal({precision},{scale})", None
    raise LookupError(f"production type {pg_type!r} has no lake type (kstore.lake.layout)")


def columns(described: list[tuple[str, str]]) -> list[Column]:
    """The lake columns of a relation, from (name, production type) pairs in table order."""
    return [Column.of(name, pg_type) for name, pg_type in described]


def partitions(grain: str) -> tuple[tuple[str, str], ...]:
    return PARTITIONS[grain]
