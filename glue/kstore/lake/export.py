"""`kstore export [--once]`: closed windows of production → verified Parquet objects in the lake.

What to export and what was exported is production's state, kept by its SQL functions
(sql/production/ops_lake_*.sql, called through manifest.py); this module does the DuckDB work.
One cycle, per dataset (the catalog's raw tables, or any relation through `export_windows`):
1. re-open windows that changed since they were exported (ops.lake_mark_changed_rows: the rows
   that reached production since the last look, by transaction id);
2. find where the dataset is closed (ops.lake_closed_until: every live gatherer caught up past
   the window's end + close_after, or every live gatherer stopped and merged: then the current
   window closes too) and plan the closed windows still to export (ops.lake_plan);
3. export each: DuckDB (production attached read-only as kstore_exporter) reads the UTC day
   once, sorted by time, then key (batches.py, one day ahead of the writing: decision 0082),
   and writes one zstd Parquet object per window in lake layout 2 (decision 0040): each window
   is a contiguous run of the batch, found by zonemap and written in the batch's order;
4. verify each object: read back through DuckDB (count and time range equal production's,
   counted by PostgreSQL itself (ops.lake_stats) while DuckDB reads the batch; sha256 and size
   of the bytes as stored) and only then record it verified (ops.lake_record). A missing,
   truncated or different object stays unverified and is retried next cycle; guarded
   retention never drops what is not verified.
Prices and sizes stay DECIMAL (numeric(10,6) → DECIMAL(10,6), numeric(18,2) → DECIMAL(18,2));
identifiers are strings; times UTC microseconds.
Without --once the cycle repeats every 30 s until SIGTERM/Ctrl-C (the current window finishes).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

import duckdb
import psycopg
from tqdm import tqdm

from kstore import metrics, roles, topology
from kstore.lake import layout as lake_layout
from kstore.lake import manifest, windows
from kstore.lake.batches import Batch, Reader
from kstore.lake.destination import (Destination, cursor, load_extensions, open_lake,
                                     sql_literal)
from kstore.lake.manifest import EMPTY, Stats
from kstore.lake.report import ExportReport, WindowResult
from kstore.lake.windows import Dataset, Window
from kstore.settings import Settings, SettingsError

log = logging.getLogger("kstore.export")

EXPORTER = roles.EXPORTER
INTERVAL = 30.0
DEAD_AFTER = timedelta(minutes=10)  # a gatherer this far behind the freshest one blocks nothing
FOOTER = ", ".join(f"{sql_literal(k)}: {sql_literal(v)}" for k, v in lake_layout.FOOTER.items())
PARQUET = f"format parquet, compression zstd, parquet_version v2, kv_metadata {{{FOOTER}}}"
# Windows: zstd level 1 (decision 0082: a third less CPU to write than the default level,
# and no larger on sorted trades and deltas).
WINDOW_PARQUET = f"{PARQUET}, compression_level 1"
SMALL_WINDOW = 2 * 122_880  # rows: two Parquet row groups


def exporter_dsn(settings: Settings) -> str:
    """Production as kstore_exporter (embedded topology); an external DSN is used as given."""
    return topology.dsn_for(settings, topology.PRODUCTION, EXPORTER)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Layout:
    """How a relation is read and ordered: the select list production runs (its columns cast to
    the lake's types, but uuids: Column.read), what DuckDB writes of a batch's rows (`write`:
    uuids cast to their strings), the order of rows in an object, and how changed windows are
    found."""

    select: str
    order: str
    change_scan: str  # "rows" (xact_id cursor), "counts" (no xact_id) or "none" (snapshot)
    columns: list[lake_layout.Column] = field(default_factory=list)

    @property
    def write(self) -> str:
        casts = [column.finish for column in self.columns if column.finish]
        return f"* replace ({', '.join(casts)})" if casts else "*"


class Exporter:
    """One production connection (psycopg) and one DuckDB connection with production attached
    read-only; export() any number of datasets. `after_write(key)` runs between writing and
    verifying an object (tests inject failures there)."""

    def __init__(self, settings: Settings, dsn: str | None = None,
                 lake: Destination | None = None, dead_after: timedelta = DEAD_AFTER,
                 after_write: Callable[[str], None] | None = None, progress: bool | None = None):
        self.settings, self.dead_after = settings, dead_after
        self.dsn = dsn or exporter_dsn(settings)
        self.lake = lake or open_lake(settings)
        self.after_write, self.progress = after_write, progress
        self.pg: psycopg.Connection | None = None
        self.duck: duckdb.DuckDBPyConnection | None = None
        self.threads = None

    def __enter__(self) -> Exporter:
        self.pg = manifest.connect(self.dsn)
        self.duck = self.lake.connect()
        self.threads = self.duck.execute("select current_setting('threads')").fetchone()[0]
        # A day of a busy table may not fit in memory: DuckDB spills its sort there.
        spill = (self.settings.home / "tmp" / "duckdb").resolve()
        self.duck.execute(f"set temp_directory = {sql_literal(spill)}")
        load_extensions(self.duck, "postgres_scanner")
        # ctid-range scans assume a plain heap: on a hypertable parent they can miss rows.
        self.duck.execute("set pg_use_ctid_scan = false")
        self.duck.execute(f"attach {sql_literal(self.dsn)} as prod (type postgres, read_only)")
        return self

    def __exit__(self, *exc) -> None:
        if self.duck is not None:
            self.duck.close()
        if self.pg is not None:
            self.pg.close()

    def closed_until(self, dataset: Dataset) -> datetime | None:
        """The close rule (ops.lake_closed_until): a raw table's own; for anything else (dbt
        models), the earliest close of the deduplicated time series. None: nothing closed."""
        return manifest.closed_until(self.pg, dataset, timedelta(
            seconds=self.settings.lake.close_after), self.dead_after)

    def export(self, dataset: Dataset, closed_until: datetime | None = None,
               reexport_from: datetime | None = None,
               stop: threading.Event | None = None) -> ExportReport:
        """Mark changed windows, plan new ones, export and verify every closed unverified one."""
        started = time.monotonic()
        report = ExportReport(dataset.manifest_name)
        if not manifest.try_lock(self.pg, dataset.manifest_name):
            report.skipped = "another exporter holds it"
            return report
        try:
            report.closed_until = closed_until or self.closed_until(dataset)
            layout = self.layout(dataset)
            report.marked = self._mark(dataset, layout, reexport_from)
            if report.closed_until is not None:
                todo = manifest.plan(self.pg, dataset, report.closed_until)
                report.windows = self._export_all(dataset, layout, todo, stop)
        finally:
            manifest.unlock(self.pg, dataset.manifest_name)
        report.seconds = time.monotonic() - started
        return report

    def layout(self, dataset: Dataset) -> Layout:
        columns = lake_layout.columns(manifest.columns(self.pg, dataset.relation))
        # A window's rows by time, then key (a total order: a re-export of the same rows
        # writes the same bytes); a snapshot's by its key.
        key = manifest.primary_key(self.pg, dataset.relation) or [c.name for c in columns]
        lead = [] if dataset.snapshot else [dataset.time_column]
        order = lead + [name for name in key if name not in lead]
        scan = "none" if dataset.snapshot else (
            "rows" if manifest.has_column(self.pg, dataset.relation, "xact_id") else "counts")
        return Layout(", ".join(column.read for column in columns),
                      ", ".join(map(quote, order)), scan, columns)

    def _mark(self, dataset: Dataset, layout: Layout, reexport_from: datetime | None) -> int:
        marked = manifest.mark_changed_since(
            self.pg, dataset.manifest_name, reexport_from) if reexport_from else 0
        if layout.change_scan == "rows":
            marked += manifest.mark_changed_rows(self.pg, dataset)
        elif layout.change_scan == "counts":
            marked += manifest.mark_changed_counts(self.pg, dataset)
        return marked

    def _export_all(self, dataset: Dataset, layout: Layout, todo: list[Window],
                    stop: threading.Event | None) -> list[WindowResult]:
        """Batch by batch (a UTC day), the next one read meanwhile (batches.py)."""
        results: list[WindowResult] = []
        if not todo:
            return results
        bar = tqdm(total=len(todo), desc=dataset.name, unit="window", file=sys.stderr,
                   disable=self.progress is False or (self.progress is None and not
                                                      sys.stderr.isatty()))
        days = [list(batch) for _, batch in groupby(todo, key=lambda w: w.start.date())]
        reader = Reader(self.duck, self.pg, dataset,
                        lambda low, high: self.source(dataset, layout, low, high), layout.order)
        batches = reader.ahead(days)
        try:
            with bar:
                for batch in batches:
                    for result in self._export_batch(dataset, layout, batch, stop):
                        results.append(result)
                        bar.update(1)
                        bar.set_postfix(rows=f"{sum(r.found.rows for r in results):,}")
                    if stop is not None and stop.is_set():
                        break
        finally:
            batches.close()  # drops what was read ahead
            reader.close()
        return results

    def _export_batch(self, dataset: Dataset, layout: Layout, batch: Batch,
                      stop: threading.Event | None):
        """Write, read back and record the batch's windows, results in window order. Windows
        under two row groups are written fastest by one thread each: two at a time (two DuckDB
        connections) when no other batch is read meanwhile, else one."""
        small = batch.largest < SMALL_WINDOW
        self.duck.execute(f"set threads = {1 if small else self.threads}")
        lanes = [self.duck] + ([cursor(self.duck)] if small and batch.alone else [])
        pools = [ThreadPoolExecutor(1, thread_name_prefix="kstore-export-write") for _ in lanes]
        running: deque[Future] = deque()
        try:
            for number, window in enumerate(batch.windows):
                if stop is not None and stop.is_set():
                    break
                lane = number % len(lanes)
                running.append(pools[lane].submit(
                    self._export_window, dataset, layout, window, batch.table,
                    batch.expected.get(window.start, EMPTY), lanes[lane]))
                if len(running) == len(lanes):
                    yield running.popleft().result()
            while running:
                yield running.popleft().result()
        finally:
            for pool in pools:
                pool.shutdown(wait=True)
            for lane in lanes[1:]:
                lane.close()
            self.duck.execute(f"set threads = {self.threads}")

    @staticmethod
    def source(dataset: Dataset, layout: Layout, low: datetime, high: datetime) -> str:
        """The query production runs for a batch: [low, high) of the time column (a snapshot:
        every row), every column cast to its lake type."""
        relation = ".".join(map(quote, dataset.relation.split(".", 1)))
        text = f"select {layout.select} from {relation}"
        if dataset.snapshot:
            return text
        column = quote(dataset.time_column)
        return (f"{text} where {column} >= '{low.isoformat()}'::timestamptz"
                f" and {column} < '{high.isoformat()}'::timestamptz")

    def _export_window(self, dataset: Dataset, layout: Layout, window: Window, table: str,
                       expected: Stats, duck: duckdb.DuckDBPyConnection) -> WindowResult:
        key, before = window.key, window.previous_rows
        if layout.change_scan == "rows" and expected.rows < before:
            # Production now holds fewer rows than the lake: retention dropped the partition
            # and a very late row re-created it. Never replace the fuller object.
            reason = (f"production holds {expected.rows} rows, the lake object {before}: "
                      "kept the lake object (rows dropped by retention)")
            log.warning("export: %s: %s", key, reason)
            return WindowResult(window, key, expected, EMPTY, reason=reason)
        where = "" if dataset.snapshot else \
            f"where {quote(dataset.time_column)} >= ? and {quote(dataset.time_column)} < ?"
        self.lake.prepare(key)
        duck.execute(
            f"copy (select {layout.write} from {table} {where}) to "
            f"{sql_literal(self.lake.uri(key))} ({WINDOW_PARQUET})",
            [] if dataset.snapshot else [window.start, window.end])
        if self.after_write is not None:
            self.after_write(key)
        result = self.verify(dataset, window, expected, duck)
        manifest.record(self.pg, dataset, window, result.found, result.byte_count,
                        result.checksum, result.verified)
        return result

    def verify(self, dataset: Dataset, window: Window, expected: Stats,
               duck: duckdb.DuckDBPyConnection | None = None) -> WindowResult:
        """Read the window's object back (through `duck`, default the exporter's connection):
        its rows and time range must equal `expected` (production's); returns the object's
        stats, size and sha256, or why it failed."""
        duck = duck or self.duck
        key = window.key
        uri = self.lake.uri(key)
        column = f"{quote(dataset.time_column)}::timestamptz" if dataset.time_column else "null"
        try:
            found = Stats(*duck.execute(
                f"select count(*), min({column}), max({column}) from read_parquet(?)",
                [uri]).fetchone())
            content = duck.execute("select content from read_blob(?)", [uri]).fetchone()[0]
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0]
            return WindowResult(window, key, expected, EMPTY, reason=f"unreadable: {first}")
        result = WindowResult(window, key, expected, found, len(content),
                              hashlib.sha256(content).hexdigest())
        if found != expected:
            result.reason = (f"object has {found.rows} rows [{found.min_ts}, {found.max_ts}], "
                             f"production {expected.rows} [{expected.min_ts}, {expected.max_ts}]")
        return result


def export_windows(settings: Settings, relation: str, time_column: str | None,
                   granularity: str, prefix: str, manifest_name: str, *,
                   closed_until: datetime | None = None, reexport_from: datetime | None = None,
                   progress: bool | None = None) -> ExportReport:
    """Export one relation with the verified-window mechanism, e.g. a dbt model:
    export_windows(settings, "aggregates.agg_candles_1m", "bucket", "day",
                   "aggregates/agg_candles_1m", "aggregates.agg_candles_1m").
    granularity: hour, day, or snapshot (the whole relation once per closed day). Windows are
    re-exported when rows reached the relation since (xact_id column), else when a window's row
    count changed, and always when they end after `reexport_from` (what a rebuild rewrote).
    closed_until defaults to the close rule (for non-raw relations: of every deduplicated
    time series)."""
    dataset = Dataset(relation, time_column, granularity, prefix, manifest_name)
    with Exporter(settings, progress=progress) as exporter:
        return exporter.export(dataset, closed_until, reexport_from)


def cycle(settings: Settings, stop: threading.Event | None = None,
          datasets: tuple[Dataset, ...] | None = None) -> list[ExportReport]:
    """One pass over `datasets`, by default every raw table of production's catalog."""
    with Exporter(settings) as exporter:
        exporter.duck.execute("select * from pg_clear_cache()")
        reports = []
        for dataset in datasets or windows.raw(exporter.pg):
            if stop is not None and stop.is_set():
                break
            reports.append(exporter.export(dataset, stop=stop))
        return reports


def run(settings: Settings, once: bool = False, interval: float = INTERVAL,
        stop: threading.Event | None = None) -> list[ExportReport]:
    """--once: one cycle, errors propagate. Else cycles until `stop`; a failed cycle (production
    or the lake unreachable) is logged and retried at the next interval."""
    stop = stop or threading.Event()
    if not once:  # a long-running exporter serves its metrics
        metrics.serve(settings, "export")
    from kstore.lake.verify import Scrub  # the rolling scrub (decision 0045); it imports us
    scrub = Scrub(settings)
    while True:
        try:
            reports = cycle(settings, stop)
        except (psycopg.Error, duckdb.Error, OSError) as exc:
            if once:
                raise
            log.warning("export: cycle failed: %s", str(exc).strip().splitlines()[0])
            reports = []
        metrics.exported(reports)
        for report in reports:  # --once: main() prints them, once
            if not once and (report.windows or report.skipped or report.marked):
                log.info("export: %s", report.line())
        if not once:
            scrub.maybe_run()
        if once or stop.wait(interval):
            return reports


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore export` (the CLI adds them to its subcommand)."""
    parser.add_argument("--once", action="store_true",
                        help="export every closed window not yet verified (or changed), exit")
    parser.add_argument("--interval", type=float, default=INTERVAL,
                        help="seconds between cycles without --once (default 30)")


def main(settings: Settings, args: argparse.Namespace) -> int:
    """`kstore export`: 0 when every exported window verified, 1 otherwise (or on an error)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        reports = run(settings, once=args.once, interval=args.interval, stop=stop)
    except (duckdb.Error, LookupError) as exc:
        print(f"kstore export: error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for report in reports:
        print(report.line())
    return 1 if any(report.failed for report in reports) else 0
