"""What the exporter writes: datasets, their time windows and deterministic object keys.

A dataset is one production relation exported to one lake folder. Time-series relations are
cut into UTC windows (hour or day) aligned to UTC midnight, so every day partition of
production is covered exactly by its windows (the contract of guarded retention, decision
0004). A `snapshot` dataset (series, events, markets: mutable reference data) is written whole,
once per UTC day, as of the moment that day closed. The object of a window always has the same
key, so a re-export replaces it and never adds a second copy:

    raw/trades/date=2025-01-01/hour=03/trades-2025-01-01T03.parquet
    raw/orderbook_snapshots/date=2025-01-01/orderbook_snapshots-2025-01-01.parquet
    raw/markets/date=2025-01-01/markets-2025-01-01.parquet
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

UTC = timezone.utc
STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "snapshot": timedelta(days=1)}
LABELS = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "snapshot": "%Y-%m-%d"}
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # date_bin origin: windows align to UTC midnight


class Window(NamedTuple):
    start: datetime
    end: datetime


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
        if self.granularity not in STEPS:
            raise ValueError(f"granularity {self.granularity!r}: one of {', '.join(STEPS)}")
        if self.granularity != "snapshot" and not self.time_column:
            raise ValueError(f"{self.relation}: a {self.granularity} dataset needs a time column")
        if "." not in self.relation:
            raise ValueError(f"relation {self.relation!r}: give it as schema.name")

    @property
    def name(self) -> str:
        return self.prefix.rstrip("/").rsplit("/", 1)[-1]

    @property
    def step(self) -> timedelta:
        return STEPS[self.granularity]

    @property
    def snapshot(self) -> bool:
        return self.granularity == "snapshot"

    def floor(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC)
        if self.granularity == "hour":
            return moment.replace(minute=0, second=0, microsecond=0)
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)

    def ceil(self, moment: datetime) -> datetime:
        """The end of the window holding `moment` (`moment` itself when it is a window edge)."""
        start = self.floor(moment)
        return start if start == moment else start + self.step

    def key(self, start: datetime) -> str:
        start = start.astimezone(UTC)
        folder = f"{self.prefix.rstrip('/')}/date={start:%Y-%m-%d}/"
        if self.granularity == "hour":
            folder += f"hour={start:%H}/"
        return f"{folder}{self.name}-{start.strftime(LABELS[self.granularity])}.parquet"

    def windows(self, start: datetime, closed_until: datetime) -> list[Window]:
        """The aligned windows from `start` whose end is at or before `closed_until`."""
        found, current = [], self.floor(start)
        while current + self.step <= closed_until:
            found.append(Window(current, current + self.step))
            current += self.step
        return found

    def partition_start(self, moment: datetime) -> datetime:
        """The UTC day holding `moment`: where the first export of a table starts, so the
        windows of its first day cover the whole day partition."""
        return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


RAW = (
    Dataset("kstore.trades", "ts", "hour", "raw/trades", "trades"),
    Dataset("kstore.orderbook_deltas", "ts", "hour", "raw/orderbook_deltas", "orderbook_deltas"),
    Dataset("kstore.tickers", "ts", "hour", "raw/tickers", "tickers"),
    Dataset("kstore.orderbook_snapshots", "captured_at", "day", "raw/orderbook_snapshots",
            "orderbook_snapshots"),
    Dataset("kstore.series", "changed_at", "snapshot", "raw/series", "series"),
    Dataset("kstore.events", "changed_at", "snapshot", "raw/events", "events"),
    Dataset("kstore.markets", "changed_at", "snapshot", "raw/markets", "markets"),
)
