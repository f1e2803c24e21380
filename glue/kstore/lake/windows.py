"""What the exporter writes: datasets and their windows.

A dataset is one production relation exported to one lake folder: the raw tables come from
the table catalog (`raw(conn)`: every catalog row with a lake grain), the dbt layers are
described by whoever exports them (transform). Production decides the rest in SQL
(sql/production/ops_lake_*.sql): the time grid (ops.window_start, ops.lake_step: UTC hours or
days aligned to UTC midnight, so every day partition is covered exactly by its windows, the
contract of guarded retention, decision 0004), which windows are closed and still to export,
and their deterministic object keys (ops.lake_object_key), so a re-export replaces an object and
never adds a second copy:

    raw/trades/dt=2025-01-01/hour=3/trades-2025-01-01T03.parquet
    raw/orderbook_snapshots/dt=2025-01-01/orderbook_snapshots-2025-01-01.parquet
    raw/markets/dt=2025-01-01/markets-2025-01-01.parquet

A `snapshot` dataset (series, events, markets: mutable reference data) is written whole, once
per UTC day, as of the moment that day closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import psycopg

from kstore import catalog

GRAINS = ("hour", "day", "snapshot")


class Window(NamedTuple):
    """One window of a dataset: [start, end), its object key, and the rows the manifest last
    recorded for it (0 when never exported)."""

    start: datetime
    end: datetime
    key: str
    previous_rows: int = 0


@dataclass(frozen=True)
class Dataset:
    """One relation → one lake folder. `manifest_name` is its ops.export_manifest.table_name:
    the bare table name for raw tables (guarded retention matches it to the partitions' table),
    a schema-qualified name (aggregates.agg_candles_1m) for anything else. For a snapshot,
    `time_column` (may be None) only fills the manifest's min_ts/max_ts."""

    relation: str
    time_column: str | None
    granularity: str
    prefix: str
    manifest_name: str

    def __post_init__(self) -> None:
        if self.granularity not in GRAINS:
            raise ValueError(f"granularity {self.granularity!r}: one of {', '.join(GRAINS)}")
        if self.granularity != "snapshot" and not self.time_column:
            raise ValueError(f"{self.relation}: a {self.granularity} dataset needs a time column")
        if "." not in self.relation:
            raise ValueError(f"relation {self.relation!r}: give it as schema.name")

    @property
    def name(self) -> str:
        return self.prefix.rstrip("/").rsplit("/", 1)[-1]

    @property
    def snapshot(self) -> bool:
        return self.granularity == "snapshot"


def raw(conn: psycopg.Connection) -> tuple[Dataset, ...]:
    """The raw datasets: every table of production's catalog with a lake grain, in the
    catalog's order (time series, reference data, history, logs), then the `extra` ones."""
    return tuple(Dataset(table.qualified, table.time_column, table.lake_grain, table.lake_prefix,
                         table.name)
                 for table in catalog.load(conn) if table.exported and table.here) + extra(conn)


# Lake datasets of production's `ops` schema, which the table catalog (kstore tables only) does
# not list: (relation, time column, grain, prefix, manifest name). Exported with the raw tables
# once the relation exists (the reconciliation results of `kstore reconcile`; decision 0046).
OPS_DATASETS = (
    ("ops.reconciliation", "checked_at", "day", "raw/reconciliation", "reconciliation"),
)


def extra(conn: psycopg.Connection) -> tuple[Dataset, ...]:
    """The OPS_DATASETS that exist in this production, with the time column they declare."""
    found = []
    for relation, column, grain, prefix, name in OPS_DATASETS:
        present = conn.execute(
            "select exists (select from pg_attribute where attrelid = to_regclass(%s)"
            " and attname = %s and not attisdropped)", [relation, column]).fetchone()[0]
        if present:
            found.append(Dataset(relation, column, grain, prefix, name))
    return tuple(found)


def raw_dataset(conn: psycopg.Connection, table: str) -> Dataset:
    """The raw dataset of one catalog table (LookupError when the lake does not hold it)."""
    for dataset in raw(conn):
        if dataset.manifest_name == table:
            return dataset
    raise LookupError(f"{table}: not a lake table in production's catalog")
