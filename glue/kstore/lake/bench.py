"""`kstore bench export`: production → verified Parquet, against streaming the same rows out.

One throw-away cluster (plain path), one migrated production database, N trades generated in
SQL over D UTC days (a few hundred markets, prices with 4 decimals, sizes with 2, random trade
ids). Measured in the same run:
- baseline: `COPY (select <the exported columns> from kstore.trades) TO STDOUT (FORMAT binary)`
  through psycopg, bytes discarded: what merely reading the rows out of production costs;
- export to a file:// lake and to S3 (a local moto server): every hourly window written,
  read back, checksummed and marked verified (Exporter.export), as rows/s and as a ratio to
  the baseline (target >= 1M rows/s);
- Parquet bytes per row against production's heap + index bytes per row (pg_total_relation_size
  of the table's partitions), target >= 20x smaller;
- a 1-minute OHLCV query over raw_trades for the busiest market on one day (kstore query's
  views), the median of --runs runs after one warm-up (target < 100 ms).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql

from kstore.lake import query
from kstore.lake.destination import open_lake
from kstore.lake.export import EXPORTER, Exporter
from kstore.lake.manifest import columns
from kstore.lake.testing import S3Server, add_trades
from kstore.lake.windows import RAW
from kstore.pgcluster import find_pg_bin
from kstore.settings import Settings
from kstore.testing import ScratchServer

TRADES = RAW[0]
START = datetime(2025, 1, 6, tzinfo=timezone.utc)
CANDLES = """
select time_bucket(interval 1 minute, ts) as minute, arg_min(yes_price, ts) as open,
    max(yes_price) as high, min(yes_price) as low, arg_max(yes_price, ts) as close,
    sum(count) as volume, count(*) as trades
from raw_trades
where date = ? and market_ticker = ?
group by minute order by minute
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore bench export` (the CLI adds them to its subcommand)."""
    parser.add_argument("--rows", type=int, default=1_200_000, help="trades to generate")
    parser.add_argument("--days", type=int, default=2, help="UTC days they spread over")
    parser.add_argument("--markets", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the baseline and of each export, interleaved")
    parser.add_argument("--runs", type=int, default=9, help="runs of the candle query")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 (moto) export")


def load(db, rows: int, days: int, markets: int) -> None:
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        step, span = max(1, rows // (days * 4)), timedelta(days=days)
        for first in range(0, rows, step):  # in slices: one huge statement swaps a small box
            add_trades(conn, START, span, min(step, rows - first), markets=markets)
        conn.execute("vacuum analyze kstore.trades")
        conn.execute("checkpoint")


def baseline(db) -> tuple[int, float]:
    """Rows and seconds of a binary COPY TO STDOUT of the exported columns, bytes discarded."""
    with psycopg.connect(db.dsn_as(EXPORTER)) as conn:
        names = [name for name, _ in columns(conn, TRADES.relation)]
        statement = sql.SQL("copy (select {} from kstore.trades) to stdout (format binary)").format(
            sql.SQL(", ").join(map(sql.Identifier, names)))
        started = time.perf_counter()
        with conn.cursor().copy(statement) as stream:
            for _ in stream:  # every block of bytes, dropped
                pass
        seconds = time.perf_counter() - started
    with psycopg.connect(db.dsn) as conn:
        rows = conn.execute("select count(*) from kstore.trades").fetchone()[0]
    return rows, seconds


def export_once(settings: Settings, db, days: int) -> tuple[float, int, int]:
    """Seconds for exporting every window, the rows verified, the Parquet bytes; the manifest
    and cursor are cleared first so every window is exported."""
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute("delete from ops.export_manifest; delete from ops.export_cursors")
    with Exporter(settings, progress=False) as exporter:
        started = time.perf_counter()
        report = exporter.export(TRADES, closed_until=START + timedelta(days=days))
        seconds = time.perf_counter() - started
    if report.failed or report.verified != 24 * days:
        raise RuntimeError(f"export did not verify every window: {report.line()}")
    return seconds, report.rows, report.bytes


def heap_and_indexes(db) -> int:
    with psycopg.connect(db.dsn) as conn:
        return conn.execute(
            "select sum(pg_total_relation_size(inhrelid)) from pg_inherits"
            " where inhparent = 'kstore.trades'::regclass").fetchone()[0] or 0


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
    return statistics.median(timings), market, trades


def report_rates(runs: dict[str, list[float]], rows: int) -> None:
    """Median rows/s per path, and the median (range) of export/baseline within each run."""
    print(f"\n{'path':<34} {'median s':>9} {'rows/s':>12} {'/COPY (range over runs)':>26}")
    for label, seconds in runs.items():
        ratios = sorted(base / mine for base, mine in zip(runs["baseline"], seconds))
        name = "COPY TO STDOUT (binary, baseline)" if label == "baseline" else \
            f"export + verify, {label}"
        print(f"{name:<34} {statistics.median(seconds):>9.2f} "
              f"{rows / statistics.median(seconds):>12,.0f} "
              f"{statistics.median(ratios):>10.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f}x)")
    print(f"target: export + verify >= 1,000,000 rows/s; {len(runs['baseline'])} interleaved "
          "run(s)")


@dataclass
class Measured:
    rows: int = 0
    runs: dict[str, list[float]] = field(default_factory=dict)
    parquet_bytes: int = 0
    heap_bytes: int = 0
    latencies: dict[str, tuple[float, str, int]] = field(default_factory=dict)
    columns: list[tuple[str, int]] = field(default_factory=list)


def measure(server: ScratchServer, s3: S3Server | None, args: argparse.Namespace) -> Measured:
    """Everything on `server` (and `s3`); the file:// lake lives under the server's root."""
    db = server.database("production")
    started = time.perf_counter()
    load(db, args.rows, args.days, args.markets)
    print(f"generated {args.rows:,} trades over {args.days} day(s), {args.markets} markets "
          f"in {time.perf_counter() - started:.0f} s")
    lakes = {"file://": {"url": f"file://{server.root / 'lake'}"}}
    if s3 is not None:
        lakes["s3 (moto)"] = s3.lake_settings("s3://kstore-bench/lake")
    targets = {label: server.settings(dsn={"production": db.dsn_as(EXPORTER)}, lake=lake)
               for label, lake in lakes.items()}
    if s3 is not None:
        s3.create_bucket(targets["s3 (moto)"])
    found = Measured(runs={"baseline": [], **{label: [] for label in targets}})
    for _ in range(args.repeat):  # interleaved: machine drift hits every path alike
        found.rows, seconds = baseline(db)
        found.runs["baseline"].append(seconds)
        for label, lake_settings in targets.items():
            seconds, _, found.parquet_bytes = export_once(lake_settings, db, args.days)
            found.runs[label].append(seconds)
    found.heap_bytes = int(heap_and_indexes(db))
    found.columns = column_bytes(targets["file://"])
    found.latencies = {label: candle_latency(lake_settings, db, args.runs)
                       for label, lake_settings in targets.items()}
    return found


def column_bytes(settings: Settings) -> list[tuple[str, int]]:
    """Compressed bytes per column over every trades object of the lake, largest first."""
    lake = open_lake(settings)
    con = lake.connect()
    return con.execute(
        "select path_in_schema, sum(total_compressed_size)::bigint from parquet_metadata(?)"
        " group by 1 order by 2 desc", [lake.uri("raw/trades/**/*.parquet")]).fetchall()


def report(found: Measured, args: argparse.Namespace) -> None:
    report_rates(found.runs, found.rows)
    per_row = found.parquet_bytes / found.rows, found.heap_bytes / found.rows
    print(f"\nParquet {per_row[0]:.1f} B/row vs heap + indexes {per_row[1]:.1f} B/row: "
          f"{per_row[1] / per_row[0]:.1f}x smaller (target >= 20x)")
    print("Parquet B/row by column: " + ", ".join(
        f"{name} {size / found.rows:.1f}" for name, size in found.columns[:6]))
    for label, (latency, market, trades) in found.latencies.items():
        print(f"1-minute candles from {label}, {market} on {START.date()} ({trades:,} trades): "
              f"median {latency:.1f} ms over {args.runs} runs (target < 100 ms)")
    print(f"{found.rows:,} rows, {24 * args.days} hourly windows per export, every window "
          "verified")


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Runs the benchmark on a throw-away cluster; exit code 1 if a window failed to verify."""
    server = ScratchServer("plain", find_pg_bin(settings.pg_bin)).start()
    s3 = None if args.no_s3 else S3Server().start()
    try:
        found = measure(server, s3, args)
    except RuntimeError as exc:
        print(f"kstore bench export: {exc}", file=sys.stderr)
        return 1
    finally:
        if s3 is not None:
            s3.stop()
        server.stop()
    report(found, args)
    return 0
