"""The merge of three gatherers against a client-side copy; its lag.

Three gatherer clusters and a production cluster on this machine (plain path by default, fsync
on), production reading every gatherer through postgres_fdw over TCP, as deployed. Both parts
print the CPU seconds of this process and of each PostgreSQL server (g1, g2, g3, production).

1. Merge throughput. Every gatherer holds the same N events (`--rows`, shaped as `--table`),
   each gatherer missing a different random 5% (so the union is all N), committed in
   1000-row writer transactions. Each variant merges them into the empty production table
   (truncated, cursors rewound, after a checkpoint), timed from its start to its last commit,
   then checked exactly: N rows whose times are the N expected ones. Variants:
   - ours: the `kstore dedup --once` loop (`Dedup(settings).run(once=True)`): one task per
     gatherer, `ops.pull` pages of 50 000 rows, one SQL statement each, cursor and
     acknowledgement bookkeeping included;
   - baseline: the rows fetched into Python from each gatherer (server-side cursor, 50 000 rows
     at a time) and written with executemany `insert … on conflict do nothing`, one commit per
     page; one thread per gatherer, as ours runs one loop per gatherer (no cursor kept).
   Printed: the median source rows/s over the runs (rows read from the gatherers, 3 × 0.95 N),
   ours/baseline per run as its median and range (target >= 1.5x), and the median CPU seconds
   per process of each variant.
2. Replication lag. A feeder writes one event stream into the three gatherers (each missing a
   different 5%) so that they commit `--lag-rate` rows/s in all, in transactions of 100
   events, with received_at = clock_timestamp() at the insert (its commit follows within a
   millisecond or two, so the lag is overstated by that much). The Dedup loop runs with its
   defaults (a round every second when caught up). Lag of a production row = its production
   commit time - received_at. The commit time is pg_xact_commit_timestamp(xmin) (production
   runs with track_commit_timestamp = on), because merged_at is now(), the start of the pull's
   transaction, which is earlier than its commit by the length of the pull; the merged_at
   figures are printed beside it. Target p99 < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql

from kstore import dedup
from kstore.bench import measure
from kstore.pgcluster import find_pg_bin
from kstore.settings import Settings
from kstore.testing import DEDUP_ROLES, ScratchTopology

PAGE = 50_000
WRITER, READER = "kstore_gatherer_writer", "kstore_gatherer_reader"
GATHERERS = ("g1", "g2", "g3")
MISSING = 20  # gatherer k misses the events whose hash is k modulo 20: 5% each, disjoint
LOAD_TRANSACTION = 1000
FEED_TRANSACTION = 100

# Event i (1..N) of each table shape, computed in SQL so loading costs no Python per row; its
# exchange time is base + i ms, which makes the exact check one aggregate.
EVENTS = {
    "orderbook_deltas": """
insert into kstore.orderbook_deltas (market_ticker, ts, side, price, delta, dup_ordinal,
    use_yes_price, sid, seq, connection_id, sending_ts, received_at, gatherer_id)
select 'KXBENCH-' || i %% 50, %(base)s + i * interval '1 ms', (array['yes', 'no'])[1 + i %% 2],
    (100 + i * 7919 %% 9800) / 10000.0, (1 - 2 * (i %% 2)) * (1 + i %% 250000) / 100.0, 0,
    false, %(sid)s, i, %(gid)s, %(base)s + i * interval '1 ms',
    coalesce(%(received)s::timestamptz + i * interval '1 ms', clock_timestamp()), %(gid)s
from generate_series(%(first)s::bigint, %(last)s::bigint) as i
where (hashint8(i)::bigint + 2147483648) %% 20 <> %(missing)s
""",
    "trades": """
insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count,
    taker_outcome_side, sending_ts, received_at, gatherer_id)
select md5('bench-' || i)::uuid, %(base)s + i * interval '1 ms', 'KXBENCH-' || i %% 50,
    (100 + i * 7919 %% 9800) / 10000.0, 1 - (100 + i * 7919 %% 9800) / 10000.0,
    1 + i %% 500, (array['yes', 'no'])[1 + i %% 2], %(base)s + i * interval '1 ms',
    coalesce(%(received)s::timestamptz + i * interval '1 ms', clock_timestamp()), %(gid)s
from generate_series(%(first)s::bigint, %(last)s::bigint) as i
where (hashint8(i)::bigint + 2147483648) %% 20 <> %(missing)s
""",
}
LAG = """
with lag as (
    select extract(epoch from pg_xact_commit_timestamp(xmin) - received_at) as committed,
        extract(epoch from merged_at - received_at) as started
    from kstore.{}
)
select count(*), percentile_cont(array[0.5, 0.99]) within group (order by committed),
    max(committed), percentile_cont(array[0.5, 0.99]) within group (order by started)
from lag
"""


class CountMismatch(RuntimeError):
    """A variant left production different from the union: its timing means nothing."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore bench dedup` (the CLI adds them to its subcommand)."""
    parser.add_argument("--rows", type=measure.positive(), default=1_000_000,
                        help="events per gatherer")
    parser.add_argument("--table", choices=sorted(EVENTS), default="orderbook_deltas")
    parser.add_argument("--repeat", type=measure.positive(), default=1,
                        help="runs of both merge variants")
    parser.add_argument("--lag-rate", type=measure.positive(), default=10_000,
                        help="rows/s the three gatherers commit together in the lag run")
    parser.add_argument("--lag-seconds", type=measure.positive(float, 0.1), default=20,
                        help="feed seconds")
    parser.add_argument("--only", choices=["throughput", "lag"], help="run one part")
    parser.add_argument("--storage", choices=["plain", "timescaledb"], default="plain")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Runs the benchmark on throw-away clusters; exit code 1 if production is not exact."""
    logging.getLogger("kstore.dedup").setLevel(logging.ERROR)
    scratch = ScratchTopology(args.storage, find_pg_bin(settings.pg_bin), GATHERERS).start()
    try:
        _track_commit_timestamps(scratch)
        probes = measure.probes(kstore=measure.this_process, **{
            name: measure.postgres(server.cluster) for name, server in scratch.servers.items()})
        if args.only != "lag":
            report_throughput(throughput(scratch, args, probes), args)
        if args.only != "throughput":
            report_lag(lag(scratch, args, probes), args)
    except CountMismatch as exc:
        print(f"kstore bench dedup: {exc}", file=sys.stderr)
        return 1
    finally:
        scratch.stop()
    return 0


def _track_commit_timestamps(scratch: ScratchTopology) -> None:
    cluster = scratch.servers["production"].cluster
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("alter system set track_commit_timestamp = on")
    cluster.stop()
    cluster.start()


# ---------------------------------------------------------------------------- 1. throughput

def throughput(scratch: ScratchTopology, args,
               probes: dict[str, measure.Probe]) -> dict[str, measure.Runs]:
    """Each variant's runs over the same loaded gatherers, interleaved, production verified
    exact after every run."""
    dbs = scratch.fresh()
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(milliseconds=args.rows)
    started = time.perf_counter()
    with ThreadPoolExecutor(len(GATHERERS)) as pool:
        list(pool.map(lambda k: _load(dbs[f"{GATHERERS[k]}_ts"], args, base, k),
                      range(len(GATHERERS))))
    for gid in GATHERERS:  # as autovacuum would have by now: no variant pays for hint bits
        with psycopg.connect(dbs[f"{gid}_ts"].dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("vacuum analyze kstore.{}").format(sql.Identifier(args.table)))
    source = sum(_count(dbs[f"{gid}_ts"].dsn, args.table) for gid in GATHERERS)
    print(f"loaded {source:,} {args.table} rows into {len(GATHERERS)} gatherers "
          f"({args.rows:,} events, 5% missing on each) in {time.perf_counter() - started:.0f} s",
          flush=True)
    variants = {"ours": ours, "baseline": baseline}
    results = {name: measure.Runs() for name in variants}
    for number in range(args.repeat):
        for name in list(variants)[number % 2:] + list(variants)[:number % 2]:
            _reset(dbs, args.table)
            seconds, cpu = measure.cpu_of(lambda: variants[name](scratch, dbs, args.table), probes)
            _verify(dbs, args.table, args.rows, base, name)
            results[name].add(source / seconds, cpu)
            print(f"  {name}: {source / seconds:,.0f} source rows/s ({seconds:.1f} s), "
                  f"{measure.cpu_line(cpu, seconds)}", flush=True)
    return results


def _load(db, args, base: datetime, k: int) -> None:
    """The gatherer's copy of the N events, in writer-sized transactions."""
    with psycopg.connect(db.dsn_as(WRITER), autocommit=True) as conn:
        conn.execute("set synchronous_commit = off")  # loading is not what is measured
        for first in range(1, args.rows + 1, LOAD_TRANSACTION):
            conn.execute(EVENTS[args.table], {
                "base": base, "received": base + timedelta(milliseconds=3 + k), "sid": k + 1,
                "gid": GATHERERS[k], "first": first,
                "last": min(args.rows, first + LOAD_TRANSACTION - 1), "missing": k})


def _count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        query = sql.SQL("select count(*) from kstore.{}").format(sql.Identifier(table))
        return conn.execute(query).fetchone()[0]


def _reset(dbs, table: str) -> None:
    """An empty production table and rewound cursors, after a checkpoint everywhere."""
    with psycopg.connect(dbs["production"].dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("truncate kstore.{}").format(sql.Identifier(table)))
        conn.execute("update ops.dedup_cursors set next_xid = '0', rows_read = 0,"
                     " rows_inserted = 0, rows_skipped = 0, watermark = '-infinity',"
                     " caught_up = false")
    for db in dbs.values():
        with psycopg.connect(db.dsn, autocommit=True) as conn:
            conn.execute("checkpoint")


def _verify(dbs, table: str, events: int, base: datetime, variant: str) -> None:
    """Exactly the N events: N rows, N distinct exchange times, from the first to the last."""
    query = sql.SQL("select count(*), count(distinct ts), min(ts), max(ts) from kstore.{}")
    with psycopg.connect(dbs["production"].dsn) as conn:
        found = conn.execute(query.format(sql.Identifier(table))).fetchone()
    expected = (events, events, base + timedelta(milliseconds=1),
                base + timedelta(milliseconds=events))
    if tuple(found) != expected:
        raise CountMismatch(f"{variant}: production holds {found}, expected {expected}")


def ours(scratch: ScratchTopology, dbs, table: str) -> float:
    """`kstore dedup --once`: every gatherer merged by ops.pull through postgres_fdw."""
    deduplicator = dedup.Dedup(scratch.settings(dbs, DEDUP_ROLES), page_size=PAGE)
    started = time.perf_counter()
    asyncio.run(deduplicator.run(once=True))
    return time.perf_counter() - started


def baseline(scratch: ScratchTopology, dbs, table: str) -> float:
    """Client-side: each gatherer's rows through Python, executemany into production."""
    columns = _shared_columns(dbs["g1_ts"].dsn, table)
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    select = sql.SQL("select {} from kstore.{}").format(names, sql.Identifier(table))
    insert = sql.SQL("insert into kstore.{} ({}) values ({}) on conflict do nothing").format(
        sql.Identifier(table), names, sql.SQL(", ").join(sql.Placeholder() * len(columns)))

    def merge(gid: str) -> None:
        with psycopg.connect(dbs[f"{gid}_ts"].dsn_as(READER)) as source, \
                psycopg.connect(dbs["production"].dsn_as(dedup.DEDUP)) as target, \
                source.cursor(name="pull") as rows, target.cursor() as out:
            rows.itersize = PAGE
            rows.execute(select)
            while page := rows.fetchmany(PAGE):
                out.executemany(insert, page)
                target.commit()

    started = time.perf_counter()
    with ThreadPoolExecutor(len(GATHERERS)) as pool:
        list(pool.map(merge, GATHERERS))
    return time.perf_counter() - started


def _shared_columns(dsn: str, table: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select column_name from information_schema.columns where table_schema = 'kstore'"
            " and table_name = %s and column_name <> 'xact_id' order by ordinal_position",
            [table]).fetchall()
    return [name for (name,) in rows]


def report_throughput(results: dict[str, measure.Runs], args) -> None:
    ratios = [o / b for o, b in zip(results["ours"].values, results["baseline"].values)]
    print(f"\nmerge of {args.rows:,} {args.table} events from {len(GATHERERS)} gatherers, "
          f"{len(ratios)} run(s), production verified exact after each")
    for name, runs in results.items():
        print(f"  {name:<9} {runs.median():>12,.0f} source rows/s (median), median "
              f"{measure.cpu_line(runs.median_cpu())}")
    print(f"ours/baseline: {measure.spread(ratios)} (target >= 1.5x)", flush=True)


# ----------------------------------------------------------------------------------- 2. lag

def lag(scratch: ScratchTopology, args, probes: dict[str, measure.Probe]) -> dict:
    """A steady feed into the gatherers while the Dedup loop runs; the lag of every row, and
    the CPU seconds each process spent from the loop's start to the last row merged."""
    dbs = scratch.fresh()
    table = args.table
    events_per_second = args.lag_rate / (len(GATHERERS) * (1 - 1 / MISSING))
    loop, stop = asyncio.new_event_loop(), asyncio.Event()
    deduplicator = dedup.Dedup(scratch.settings(dbs, DEDUP_ROLES))
    merging = threading.Thread(target=loop.run_until_complete,
                               args=(deduplicator.run(stop=stop),), daemon=True)
    merging.start()
    try:
        time.sleep(2)  # the loop has attached and found nothing: steady state
        fed, cpu = measure.cpu_of(lambda: _feed_and_merge(dbs, table, events_per_second,
                                                          args.lag_seconds), probes)
    finally:
        loop.call_soon_threadsafe(stop.set)
        merging.join(60)
        loop.close()
    with psycopg.connect(dbs["production"].dsn) as conn:
        rows, (p50, p99), worst, (m50, m99) = conn.execute(
            sql.SQL(LAG).format(sql.Identifier(table))).fetchone()
    return fed | {"rows": rows, "p50": p50, "p99": p99, "max": worst, "merged_at_p50": m50,
                  "merged_at_p99": m99, "cpu": cpu}


def _feed(dbs, table: str, events_per_second: float, seconds: float) -> dict:
    """One writer per gatherer, each committing a transaction per 100 events on schedule."""
    batches = int(seconds * events_per_second / FEED_TRANSACTION)
    started, base = time.monotonic() + 0.5, datetime.now(timezone.utc)

    def gatherer(k: int) -> int:
        gid = GATHERERS[k]
        with psycopg.connect(dbs[f"{gid}_ts"].dsn_as(WRITER), autocommit=True) as conn:
            for batch in range(batches):
                due = started + batch * FEED_TRANSACTION / events_per_second
                time.sleep(max(0.0, due - time.monotonic()))
                conn.execute(EVENTS[table], {
                    "base": base, "received": None,
                    "sid": k + 1, "gid": gid, "first": batch * FEED_TRANSACTION + 1,
                    "last": (batch + 1) * FEED_TRANSACTION, "missing": k})
        return batches

    with ThreadPoolExecutor(len(GATHERERS)) as pool:
        list(pool.map(gatherer, range(len(GATHERERS))))
    elapsed = time.monotonic() - started
    committed = sum(_count(dbs[f"{gid}_ts"].dsn, table) for gid in GATHERERS)
    return {"events": batches * FEED_TRANSACTION, "gatherer_rows": committed,
            "rate": committed / elapsed, "seconds": elapsed}


def _feed_and_merge(dbs, table: str, events_per_second: float, seconds: float) -> dict:
    """The feed, then the wait until production holds every fed event."""
    fed = _feed(dbs, table, events_per_second, seconds)
    _drain(dbs, table, fed["events"])
    return fed


def _drain(dbs, table: str, events: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _count(dbs["production"].dsn, table) < events:
        if time.monotonic() > deadline:
            raise CountMismatch(f"lag run: production has fewer than {events} {table} rows "
                                f"{timeout:.0f} s after the feed ended")
        time.sleep(0.2)
    if (found := _count(dbs["production"].dsn, table)) != events:
        raise CountMismatch(f"lag run: production has {found} rows, expected {events}")


def report_lag(result: dict, args) -> None:
    print(f"\nreplication lag: {result['gatherer_rows']:,} {args.table} rows committed on the "
          f"gatherers at {result['rate']:,.0f} rows/s for {result['seconds']:.0f} s "
          f"(target {args.lag_rate:,}), {result['rows']:,} rows in production (exact)")
    print(f"  gatherer commit -> production commit: p50 {result['p50']:.3f} s, p99 "
          f"{result['p99']:.3f} s, max {result['max']:.3f} s (target p99 < 2 s)")
    print(f"  (to merged_at, the pull's start: p50 {result['merged_at_p50']:.3f} s, p99 "
          f"{result['merged_at_p99']:.3f} s)")
    print(f"  feed and merge, {measure.cpu_line(result['cpu'])}", flush=True)
