"""The gatherer's batch writer against the seed's writer and COPY.

One throw-away cluster (plain path, fsync on, the same server and durability for every
variant), one migrated gatherer_ts database, N generated orderbook_deltas rows. Each variant
starts from a truncated table after a checkpoint, is timed from its first row handed over to its
last commit, and its row count is verified. Printed: the median rows/s per variant over the
runs, its ratios to the baseline (target ≥ 2.5×) and to plain binary COPY (target ≥ 0.6×), and
the median CPU seconds of this process and of the PostgreSQL server per variant. `--candidates`
adds the other ways of writing a batch that were measured before choosing ours.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
from psycopg import sql

from kstore import copyload
from kstore.bench import measure
from kstore.gatherer.rows import TABLE_COLUMNS
from kstore.gatherer.writer import Writers
from kstore.pgcluster import find_pg_bin
from kstore.settings import Settings
from kstore.testing import ScratchServer

TABLE = "orderbook_deltas"
COLUMNS = TABLE_COLUMNS[TABLE]
BATCH = 100
TARGET = sql.Identifier("kstore", TABLE)
NAMES = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
INSERT_VALUES = sql.SQL("insert into {} ({}) values ({}) on conflict do nothing").format(
    TARGET, NAMES, sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)))
COPY_BINARY = sql.SQL("copy {} ({}) from stdin (format binary)").format(TARGET, NAMES)


class CountMismatch(RuntimeError):
    """A variant left the wrong number of rows in the table: its timing means nothing."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore bench writer` (the CLI adds them to its subcommand)."""
    parser.add_argument("--rows", type=measure.positive(), default=200_000, help="rows per variant")
    parser.add_argument("--repeat", type=measure.positive(), default=1,
                        help="runs of every variant")
    parser.add_argument("--candidates", action="store_true",
                        help="also measure the other batch-write methods considered")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Runs the benchmark on a throw-away cluster; exit code 1 if a row count is wrong."""
    # Every row is put at once, so the writer's backlog warning is expected here.
    logging.getLogger("kstore.gatherer.writer").setLevel(logging.ERROR)
    server = ScratchServer("plain", find_pg_bin(settings.pg_bin)).start()
    try:
        dsn = server.database("gatherer_ts").dsn
        rows = generate(args.rows)
        variants = {**VARIANTS, **(CANDIDATES if args.candidates else {})}
        results = {name: measure.Runs() for name in variants}
        probes = measure.probes(kstore=measure.this_process,
                                postgres=measure.postgres(server.cluster))
        for number in range(args.repeat):
            for name in _rotated(list(variants), number):
                results[name].add(*write(dsn, rows, variants[name], probes))
    except CountMismatch as exc:
        print(f"kstore bench writer: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    report(results, len(rows))
    return 0


def _rotated(names: list[str], run: int) -> list[str]:
    """Each run starts with another variant, so no variant always follows the same one."""
    start = run % len(names)
    return names[start:] + names[:start]


def generate(count: int, markets: int = 12, seed: int = 7) -> list[tuple]:
    """`count` orderbook_deltas rows as a gatherer produces them: several markets, prices with
    4 decimals and sizes with 2 (Decimal), increasing exchange time, dup_ordinal 0."""
    rnd = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(milliseconds=count)
    tickers = [f"KXHIGHNY-25JUN{10 + i}-B{80 + i}.5" for i in range(markets)]
    mids = [rnd.randint(2000, 8000) for _ in tickers]
    rows = []
    for seq in range(count):
        market = seq % markets
        mids[market] = min(9899, max(101, mids[market] + rnd.randint(-30, 30)))
        ts = start + timedelta(milliseconds=seq)
        price = Decimal(mids[market] + rnd.randint(-100, 100)).scaleb(-4)
        size = Decimal(rnd.choice((-1, 1)) * rnd.randint(1, 250_000)).scaleb(-2)
        rows.append((tickers[market], ts, rnd.choice(("yes", "no")), price, size, 0, "", True,
                     market + 1, seq // markets + 1, "conn-1", ts + timedelta(milliseconds=1),
                     ts + timedelta(milliseconds=4), "g1"))
    return rows


def write(dsn: str, rows: list[tuple], variant: Callable,
          probes: dict[str, measure.Probe]) -> tuple[float, dict[str, float]]:
    """Seconds `variant` takes to commit `rows` into the truncated table and the CPU seconds
    each process spent meanwhile; checks the count."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("truncate {}").format(TARGET))
        conn.execute("checkpoint")
    seconds, cpu = measure.cpu_of(lambda: variant(dsn, rows), probes)
    with psycopg.connect(dsn) as conn:
        found = conn.execute(sql.SQL("select count(*) from {}").format(TARGET)).fetchone()[0]
    if found != len(rows):
        raise CountMismatch(f"{variant.__name__}: {found} rows in the table, expected {len(rows)}")
    return seconds, cpu


def report(results: dict[str, measure.Runs], count: int) -> None:
    """Median rows/s per variant, its ratio to the baseline and to COPY, and the median CPU
    seconds per process; then ours/baseline and ours/COPY as the median (and range) of the
    ratios within each run, which machine drift between runs does not distort."""
    rates = {name: [count / seconds for seconds in runs.values] for name, runs in results.items()}
    median = {name: measure.median(values) for name, values in rates.items()}
    print(f"{'variant':<50} {'median rows/s':>13} {'best rows/s':>12} {'/baseline':>10} "
          f"{'/COPY':>6}")
    for name, runs in results.items():
        print(f"{name:<50} {median[name]:>13,.0f} {max(rates[name]):>12,.0f} "
              f"{median[name] / median['baseline']:>9.2f}x {median[name] / median['copy']:>5.2f}x"
              f"  {measure.cpu_line(runs.median_cpu())}")
    ours = results["ours"].values
    print(f"\n{count:,} rows per variant, {len(ours)} run(s), every row count verified; CPU s: "
          "the median per process (this one, the PostgreSQL server)")
    for other, label, target in (("baseline", "baseline", 2.5), ("copy", "COPY", 0.6)):
        ratios = [theirs / mine for theirs, mine in zip(results[other].values, ours)]
        print(f"ours/{label}: {measure.spread(ratios)} over the runs (target >= {target}x)")


def baseline(dsn: str, rows: list[tuple]) -> float:
    """The seed's writer: executemany `insert … on conflict do nothing`, 100 rows per commit."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        for first in range(0, len(rows), BATCH):
            cur.executemany(INSERT_VALUES, rows[first:first + BATCH])
            conn.commit()
        return time.perf_counter() - started


def ours(dsn: str, rows: list[tuple], **options) -> float:
    """Writers end to end: every row put (yielding to the loop once per 100, as a socket reader
    would between frames), then close(); timed from the first put to the last commit."""
    async def run() -> float:
        writers = Writers(dsn, **options)
        await writers.start(wait=30)
        started = time.perf_counter()
        for number, row in enumerate(rows, start=1):
            writers.put(TABLE, row)
            if number % BATCH == 0:
                await asyncio.sleep(0)
        await writers.close()
        return time.perf_counter() - started
    return asyncio.run(run())


def copy(dsn: str, rows: list[tuple]) -> float:
    """Plain binary COPY of every row in one transaction (no dedup: the ceiling)."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        types = _types(conn)
        started = time.perf_counter()
        with cur.copy(COPY_BINARY) as stream:
            stream.set_types(types)
            for row in rows:
                stream.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def unnest_per_batch(dsn: str, rows: list[tuple], per_commit: int = 1) -> float:
    """One `insert … select * from unnest(%s::type[], …)` per 100 rows; pipeline mode, a
    commit every `per_commit` batches."""
    with psycopg.connect(dsn) as conn, conn.cursor(binary=True) as cur:
        insert = sql.SQL(
            "insert into {} ({}) select * from unnest({}) on conflict do nothing"
        ).format(TARGET, NAMES, sql.SQL(", ").join(
            sql.SQL("%s::{}[]").format(sql.SQL(kind)) for kind in _types(conn)))
        started = time.perf_counter()
        with conn.pipeline():
            for number, first in enumerate(range(0, len(rows), BATCH), start=1):
                cur.execute(insert, [list(column) for column in
                                            zip(*rows[first:first + BATCH])])
                if number % per_commit == 0:
                    conn.commit()
            conn.commit()
        return time.perf_counter() - started


def executemany_pipelined(dsn: str, rows: list[tuple], per_commit: int = 20) -> float:
    """The baseline statement, but `per_commit` batches per commit (executemany pipelines)."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        for number, first in enumerate(range(0, len(rows), BATCH), start=1):
            cur.executemany(INSERT_VALUES, rows[first:first + BATCH])
            if number % per_commit == 0:
                conn.commit()
        conn.commit()
        return time.perf_counter() - started


def _types(conn: psycopg.Connection) -> list[str]:
    """The database's types of COLUMNS (kstore.copyload reads them from pg_attribute)."""
    return [kind for _, kind in copyload.typed(TABLE, COLUMNS, copyload.columns(conn, TABLE))]


def _with(function: Callable, **options) -> Callable:
    def variant(dsn: str, rows: list[tuple]) -> float:
        return function(dsn, rows, **options)
    variant.__name__ = function.__name__
    return variant


VARIANTS: dict[str, Callable] = {"baseline": baseline, "ours": ours, "copy": copy}
CANDIDATES: dict[str, Callable] = {
    "executemany, 20 batches per commit": _with(executemany_pipelined, per_commit=20),
    "unnest, 1 batch per commit": _with(unnest_per_batch, per_commit=1),
    "unnest pipelined, 20 batches per commit": _with(unnest_per_batch, per_commit=20),
    "COPY to temp + insert, 1 conn, 1 batch/write": _with(ours, pool_size=1, batches_per_write=1),
    "COPY to temp + insert, 2 conns, 1 batch/write": _with(ours, batches_per_write=1),
    "COPY to temp + insert, 2 conns, 20 batches/write": _with(ours, batches_per_write=20),
    "COPY to temp + insert, 2 conns, 50 batches/write": _with(ours, batches_per_write=50),
    "COPY to temp + insert, 1 conn, 100 batches/write": _with(ours, pool_size=1),
    "COPY to temp + insert, 3 conns, 100 batches/write": _with(ours, pool_size=3),
}
