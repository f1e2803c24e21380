"""Production → verified Parquet against COPY; file sizes; queries.

One throw-away cluster (plain path), one migrated production database, N trades and M
order-book deltas generated in SQL over D UTC days (a few hundred markets, a few busy; trade
prices with 4 decimals, delta prices in cents; random trade ids). Measured in the same run, per
table:
- baseline: `COPY (select <the exported columns> from kstore.<table>) TO STDOUT (FORMAT binary)`
  through psycopg, bytes discarded: what merely reading the rows out of production costs;
- export to a file:// lake and to S3 (a local moto server): every hourly window written,
  read back, checksummed and marked verified (Exporter.export), as rows/s and as a ratio to
  the baseline (target >= 1M rows/s), with the median CPU seconds of each process: this one
  (Python, DuckDB and the moto S3 server, which run in it) and the PostgreSQL server;
- Parquet bytes per row against production's heap + index bytes per row (pg_total_relation_size
  of the table's partitions), target >= 20x smaller, and the Parquet bytes of each column;
- a 1-minute OHLCV query over raw_trades for the busiest market on one day (kstore query's
  views), the median of --runs runs after one warm-up (target < 100 ms).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql

from kstore.bench import measure
from kstore.lake import query
from kstore.lake.destination import open_lake
from kstore.lake.export import EXPORTER, Exporter
from kstore.lake.manifest import columns
from kstore.lake.testing import S3Server, add_deltas, add_trades
from kstore.lake.windows import raw_dataset
from kstore.pgcluster import find_pg_bin
from kstore.settings import Settings
from kstore.testing import ScratchServer

TABLES = {"trades": add_trades, "orderbook_deltas": add_deltas}
START = datetime(2025, 1, 6, tzinfo=timezone.utc)
CANDLES = """
select time_bucket(interval 1 minute, ts) as minute, arg_min(yes_price, ts) as open,
    max(yes_price) as high, min(yes_price) as low, arg_max(yes_price, ts) as close,
    sum(count) as volume, count(*) as trades
from raw_trades
where dt = ? and market_ticker = ?
group by minute order by minute
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore bench export` (the CLI adds them to its subcommand)."""
    parser.add_argument("--rows", type=measure.positive(int, 0), default=1_200_000,
                        help="trades to generate (0: deltas only)")
    parser.add_argument("--deltas", type=measure.positive(int, 0), default=1_200_000,
                        help="order-book deltas to generate (0: trades only)")
    parser.add_argument("--days", type=measure.positive(), default=2,
                        help="UTC days they spread over")
    parser.add_argument("--markets", type=measure.positive(), default=300)
    parser.add_argument("--repeat", type=measure.positive(), default=3,
                        help="runs of the baseline and of each export, interleaved")
    parser.add_argument("--runs", type=measure.positive(), default=9,
                        help="runs of the candle query")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 (moto) export")


def load(db, table: str, rows: int, days: int, markets: int) -> None:
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        step, span = max(1, rows // (days * 4)), timedelta(days=days)
        for first in range(0, rows, step):  # in slices: one huge statement swaps a small box
            TABLES[table](conn, START, span, min(step, rows - first), markets=markets)
        conn.execute(sql.SQL("vacuum analyze {}").format(sql.Identifier("kstore", table)))
        conn.execute("checkpoint")


def baseline(db, table: str, probes: dict[str, measure.Probe]) -> tuple[int, float, dict]:
    """Rows, seconds and CPU seconds per process of a binary COPY TO STDOUT of the exported
    columns."""
    relation = f"kstore.{table}"
    with psycopg.connect(db.dsn_as(EXPORTER)) as conn:
        names = [name for name, _ in columns(conn, relation)]
        statement = sql.SQL("copy (select {} from {}) to stdout (format binary)").format(
            sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier("kstore", table))

        def stream():
            with conn.cursor().copy(statement) as blocks:
                for _ in blocks:  # every block of bytes, dropped
                    pass
        seconds, cpu = measure.timed(stream, probes)
    with psycopg.connect(db.dsn) as conn:
        rows = conn.execute(sql.SQL("select count(*) from {}").format(
            sql.Identifier("kstore", table))).fetchone()[0]
    return rows, seconds, cpu


def export_once(settings: Settings, db, dataset, days: int,
                probes: dict[str, measure.Probe]) -> tuple[float, dict, int]:
    """Seconds and CPU seconds per process for exporting every window of `dataset`, and the
    Parquet bytes; the manifest and cursors are cleared first so every window is exported."""
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute("delete from ops.export_manifest; delete from ops.export_cursors")
    reports = []
    with Exporter(settings, progress=False) as exporter:
        seconds, cpu = measure.timed(lambda: reports.append(exporter.export(
            dataset, closed_until=START + timedelta(days=days))), probes)
    report = reports[0]
    if report.failed or report.verified != 24 * days:
        raise RuntimeError(f"export did not verify every window: {report.line()}")
    return seconds, cpu, report.bytes


def heap_and_indexes(db, table: str) -> int:
    with psycopg.connect(db.dsn) as conn:
        return conn.execute(
            "select sum(pg_total_relation_size(inhrelid)) from pg_inherits"
            " where inhparent = %s::regclass", [f"kstore.{table}"]).fetchone()[0] or 0


def candle_latency(settings: Settings, db, runs: int) -> tuple[float, str, int]:
    """Median milliseconds of the candle query for the busiest market of the first day."""
    with psycopg.connect(db.dsn) as conn:
        market, trades = conn.execute(
            "select market_ticker, count(*) from kstore.trades where ts >= %s and ts < %s"
            " group by 1 order by 2 desc limit 1", [START, START + timedelta(days=1)]).fetchone()
    con, _ = query.connect(settings)
    con.execute(CANDLES, [START.date(), market]).fetchall()  # warm-up: views, metadata
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        con.execute(CANDLES, [START.date(), market]).fetchall()
        timings.append((time.perf_counter() - started) * 1000)
    con.close()
    return measure.median(timings), market, trades


@dataclass
class Table:
    """What was measured for one table: wall and CPU seconds per path ("baseline", "file://",
    "s3 (moto)"), one entry per run; sizes; Parquet bytes per column."""

    rows: int = 0
    runs: dict[str, measure.Runs] = field(default_factory=dict)
    parquet_bytes: int = 0
    heap_bytes: int = 0
    columns: list[tuple[str, int]] = field(default_factory=list)

    def add(self, path: str, seconds: float, cpu: dict[str, float]) -> None:
        self.runs.setdefault(path, measure.Runs()).add(seconds, cpu)


@dataclass
class Measured:
    tables: dict[str, Table] = field(default_factory=dict)
    latencies: dict[str, tuple[float, str, int]] = field(default_factory=dict)


def measured(server: ScratchServer, s3: S3Server | None, args: argparse.Namespace) -> Measured:
    """Everything on `server` (and `s3`); the file:// lake lives under the server's root."""
    db = server.database("production")
    wanted = {"trades": args.rows, "orderbook_deltas": args.deltas}
    with psycopg.connect(db.dsn) as conn:
        datasets = {table: raw_dataset(conn, table) for table in TABLES if wanted[table]}
    for table in datasets:
        started = time.perf_counter()
        load(db, table, wanted[table], args.days, args.markets)
        print(f"generated {wanted[table]:,} {table} over {args.days} day(s), {args.markets} "
              f"markets in {time.perf_counter() - started:.0f} s")
    lakes = {"file://": {"url": f"file://{server.root / 'lake'}"}}
    if s3 is not None:
        lakes["s3 (moto)"] = s3.lake_settings("s3://kstore-bench/lake")
    targets = {label: server.settings(dsn={"production": db.dsn_as(EXPORTER)}, lake=lake)
               for label, lake in lakes.items()}
    if s3 is not None:
        s3.create_bucket(targets["s3 (moto)"])
    found = Measured({table: Table() for table in datasets})
    probes = measure.probes(kstore=measure.this_process,
                            postgres=measure.postgres(server.cluster))
    for _ in range(args.repeat):  # interleaved: machine drift hits every path alike
        for table, dataset in datasets.items():
            one = found.tables[table]
            one.rows, seconds, cpu = baseline(db, table, probes)
            one.add("baseline", seconds, cpu)
            for label, lake_settings in targets.items():
                seconds, cpu, one.parquet_bytes = export_once(lake_settings, db, dataset,
                                                              args.days, probes)
                one.add(label, seconds, cpu)
    for table, one in found.tables.items():
        one.heap_bytes = int(heap_and_indexes(db, table))
        one.columns = column_bytes(targets["file://"], table)
    if "trades" in datasets:
        found.latencies = {label: candle_latency(lake_settings, db, args.runs)
                           for label, lake_settings in targets.items()}
    return found


def column_bytes(settings: Settings, table: str) -> list[tuple[str, int]]:
    """Compressed bytes per column over every object of the table, largest first."""
    lake = open_lake(settings)
    con = lake.connect()
    return con.execute(
        "select path_in_schema, sum(total_compressed_size)::bigint from parquet_metadata(?)"
        " group by 1 order by 2 desc", [lake.uri(f"raw/{table}/**/*.parquet")]).fetchall()


def report_rates(table: str, measured: Table) -> None:
    """Per path: median seconds, rows/s, the median (range) of baseline/export within each run,
    and the median CPU seconds of each process (and the cores they kept busy on average)."""
    print(f"\n{table}: {'path':<34} {'median s':>9} {'rows/s':>11} {'/COPY (range)':>23}")
    base = measured.runs["baseline"].values
    for path, runs in measured.runs.items():
        ratios = sorted(b / mine for b, mine in zip(base, runs.values))
        wall = runs.median()
        name = "COPY TO STDOUT (binary, baseline)" if path == "baseline" else \
            f"export + verify, {path}"
        print(f"{'':<{len(table) + 2}}{name:<34} {wall:>9.2f} {measured.rows / wall:>11,.0f} "
              f"{measure.median(ratios):>8.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f}x)  "
              f"{measure.cpu_line(runs.median_cpu(), wall)}")


def report(found: Measured, args: argparse.Namespace) -> None:
    for table, measured in found.tables.items():
        report_rates(table, measured)
    print(f"\ntarget: export + verify >= 1,000,000 rows/s; {args.repeat} interleaved run(s); "
          f"this machine has {os.cpu_count()} CPU(s)")
    total = {"rows": 0, "parquet": 0, "heap": 0}
    for table, measured in found.tables.items():
        parquet, heap = measured.parquet_bytes / measured.rows, measured.heap_bytes / measured.rows
        total = {"rows": total["rows"] + measured.rows,
                 "parquet": total["parquet"] + measured.parquet_bytes,
                 "heap": total["heap"] + measured.heap_bytes}
        print(f"{table}: Parquet {parquet:.1f} B/row vs heap + indexes {heap:.1f} B/row: "
              f"{heap / parquet:.1f}x smaller; B/row by column: " + ", ".join(
                  f"{name} {size / measured.rows:.1f}" for name, size in measured.columns[:6]))
    if len(found.tables) > 1:
        print(f"all {total['rows']:,} rows: {total['heap'] / total['parquet']:.1f}x smaller")
    print("target: Parquet >= 20x smaller than heap + indexes")
    for label, (latency, market, trades) in found.latencies.items():
        print(f"1-minute candles from {label}, {market} on {START.date()} ({trades:,} trades): "
              f"median {latency:.1f} ms over {args.runs} runs (target < 100 ms)")
    print(f"{24 * args.days} hourly windows per table and export, every window verified")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Runs the benchmark on a throw-away cluster; exit code 1 if a window failed to verify."""
    server = ScratchServer("plain", find_pg_bin(settings.pg_bin)).start()
    s3 = None if args.no_s3 else S3Server().start()
    try:
        found = measured(server, s3, args)
    except RuntimeError as exc:
        print(f"kstore bench export: {exc}", file=sys.stderr)
        return 1
    finally:
        if s3 is not None:
            s3.stop()
        server.stop()
    report(found, args)
    return 0
