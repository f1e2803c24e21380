"""Bytes per row of production's trades and order-book deltas on both storage paths.

One throw-away cluster per storage path, one migrated production database on each, the same
generated rows loaded into both: trades and deltas over many markets with Zipf-skewed
activity (market k gets a share ∝ 1/k), prices on the cent grid near a drifting mid, whole
contract sizes, millisecond exchange times, receive and merge times a little later, deltas
numbered per subscription (sid, seq) of 100 markets, merge transactions of a few hundred rows
as the deduplicator writes them. The rows are a function
of their number only (hashes, not a random generator), so both paths hold identical data.
Then `ops.maintain()` (our maintenance, with the policies of policies/production.sql)
compresses every chunk past its delay on TimescaleDB. Printed per table and path: bytes per
row of heap + TOAST + indexes, and on TimescaleDB after compression, and the ratios (target:
compressed ≥ 10× smaller than heap + indexes). Without TimescaleDB only the plain path runs and
the reason is printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from kstore.bench import measure
from kstore.pgcluster import find_pg_bin
from kstore.settings import Settings
from kstore.testing import ScratchServer, storage_paths

TABLES = ("trades", "orderbook_deltas")
TARGET_RATIO = 10.0
# The data ends this long before now: every chunk is past production's compression delay
# (7 days) and within the deltas' retention (90 days), so ops.maintain() compresses it all.
ENDS_AGO = "20 days"

# u(i, k): a uniform number in [0, 1) from row number i and stream k, the same on every server.
UNIFORM = "((hashint8extended({i}, {k}) & 2147483647)::float8 / 2147483648.0)"


def _u(i: str, k: int) -> str:
    return UNIFORM.format(i=i, k=k)


# Shared columns of both generators: the row's market (Zipf over `markets`), its exchange time
# (row order over `days`, ms precision) and its mid price in cents on the grid 1..99.
ROW_BASE = f"""
select i,
    'KXBENCH-' || lpad(m::text, 4, '0') || '-T' || (50 + m %% 40)::text as market_ticker,
    date_trunc('milliseconds', t0 + (i::float8 / n) * span
        + {_u('i', 1)} * interval '50 milliseconds') as ts,
    greatest(1, least(99, 8 + (abs(hashint4(m)) %% 84)
        + round(6 * sin(i::float8 / n * 40 + m))::int
        + floor({_u('i', 2)} * 5)::int - 2)) as mid,
    m
from (
    select i, %(n)s::bigint as n, %(days)s * interval '1 day' as span,
        now() - interval '{ENDS_AGO}' - %(days)s * interval '1 day' as t0,
        floor(exp({_u('i', 0)} * ln(%(markets)s + 1)))::int as m
    from generate_series(1, %(n)s::bigint) as i
) as g
"""

TRADES = f"""
insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count,
    taker_outcome_side, taker_book_side, is_block_trade, sending_ts, received_at, gatherer_id,
    source, xact_id, merged_at)
select md5('trade' || i)::uuid, ts, market_ticker, mid / 100.0, (100 - mid) / 100.0,
    floor(exp({_u('i', 3)} * ln(500)))::numeric(18, 2),
    case when {_u('i', 4)} < 0.5 then 'yes' else 'no' end,
    case when {_u('i', 5)} < 0.5 then 'bid' else 'ask' end,
    false,
    ts + interval '2 milliseconds',
    ts + (20 + {_u('i', 6)} * 30) * interval '1 millisecond',
    'g' || (1 + floor({_u('i', 7)} * 3)::int),
    'ws',
    (1000 + i / 300)::text::xid8,
    date_trunc('second', ts) + interval '2 seconds'
from ({ROW_BASE}) as r
order by i
"""

DELTAS = f"""
insert into kstore.orderbook_deltas (market_ticker, ts, side, price, delta, dup_ordinal,
    key_scope, use_yes_price, sid, seq, connection_id, sending_ts, received_at, gatherer_id,
    xact_id, merged_at)
select market_ticker, ts, side,
    greatest(1, least(99, case when side = 'yes' then mid - off else 100 - mid - off end)) / 100.0,
    (case when {_u('i', 4)} < 0.5 then -1 else 1 end)
        * floor(exp({_u('i', 5)} * ln(2000)))::numeric(18, 2),
    0, '', true, 1 + m / 100, row_number() over (partition by m / 100 order by i),
    'conn-' || (1 + m / 100), ts + interval '1 millisecond',
    ts + (3 + {_u('i', 6)} * 10) * interval '1 millisecond',
    'g' || (1 + floor({_u('i', 7)} * 3)::int),
    (1000 + i / 500)::text::xid8,
    date_trunc('second', ts) + interval '2 seconds'
from (
    select r.*, case when {_u('i', 3)} < 0.5 then 'yes' else 'no' end as side,
        floor({_u('i', 8)} * {_u('i', 9)} * 10)::int as off
    from ({ROW_BASE}) as r
) as d
order by i
on conflict do nothing
"""

# Heap + TOAST + indexes of every partition or chunk of a table, before compression; and on
# TimescaleDB the same of the compressed chunks after (their own heap, TOAST and index).
SIZE_BEFORE = """
select coalesce(sum(pg_total_relation_size(partition_name)), 0)::bigint
from ops.partitions() where table_name = %s::regclass
"""
SIZE_COMPRESSED = """
select coalesce(sum(after_compression_total_bytes), 0)::bigint,
    coalesce(sum(before_compression_total_bytes), 0)::bigint, count(*) filter (
        where compression_status = 'Compressed')
from public.chunk_compression_stats(%s::regclass)
"""
# Rows per market per chunk: the rows of a compressed segment when segmented by market.
SEGMENT_ROWS = """
select round(avg(rows)), percentile_disc(0.5) within group (order by rows)
from (
    select count(*) as rows from {table} group by tableoid, market_ticker
) as s
"""

# The compressed chunks of a hypertable (TimescaleDB's catalog: no view names them).
COMPRESSED_CHUNKS = """
select format('%%I.%%I', cc.schema_name, cc.table_name)
from _timescaledb_catalog.chunk as ch
inner join _timescaledb_catalog.hypertable as h on ch.hypertable_id = h.id
inner join _timescaledb_catalog.chunk as cc on ch.compressed_chunk_id = cc.id
where h.schema_name = 'kstore' and h.table_name = %s
"""
# Columns of the compressed form shown: those that weigh at least this many bytes per row.
SHOWN_COLUMN_BYTES = 0.5


@dataclass
class Measured:
    """One table on one storage path."""

    rows: int
    heap_bytes: int
    compressed_bytes: int | None = None
    chunks: int = 0
    segment_rows: tuple[float, int] | None = None
    columns: dict[str, float] | None = None

    def per_row(self, size: int | None) -> str:
        return "-" if size is None else f"{size / self.rows:.1f}"

    def ratio(self) -> float | None:
        return None if not self.compressed_bytes else self.heap_bytes / self.compressed_bytes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore bench storage` (the CLI adds them to its subcommand)."""
    parser.add_argument("--trades", type=measure.positive(), default=300_000, help="trade rows")
    parser.add_argument("--deltas", type=measure.positive(), default=1_000_000,
                        help="orderbook_deltas rows")
    parser.add_argument("--markets", type=measure.positive(), default=300, help="markets")
    parser.add_argument("--days", type=measure.positive(), default=7,
                        help="days the rows span (rows per market per chunk follow)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Runs the benchmark on each storage path available; exit 1 when a path lost rows."""
    pg_bin = find_pg_bin(settings.pg_bin)
    results: dict[str, dict[str, Measured]] = {}
    for path, reason in storage_paths(pg_bin).items():
        if reason is not None:
            print(f"kstore bench storage: {path} skipped: {reason}")
            continue
        started = time.monotonic()
        results[path] = measure_path(path, pg_bin, args)
        print(f"kstore bench storage: {path} measured in {time.monotonic() - started:.0f} s",
              file=sys.stderr)
    expected = {"trades": args.trades, "orderbook_deltas": args.deltas}
    report(results, args)
    wrong = [f"{p} {t}: {m.rows} rows, expected {expected[t]}"
             for p, tables in results.items() for t, m in tables.items() if m.rows != expected[t]]
    for line in wrong:
        print(f"kstore bench storage: {line}", file=sys.stderr)
    return 1 if wrong else 0


def measure_path(path: str, pg_bin, args: argparse.Namespace) -> dict[str, Measured]:
    """Loads the rows into a fresh production database on `path`, measures, compresses through
    ops.maintain(), measures again."""
    server = ScratchServer(path, pg_bin).start()
    try:
        dsn = server.database("production").dsn
        with psycopg.connect(dsn, autocommit=True) as conn:
            load(conn, args)
            if path == "plain":  # moves the rows out of the default partition into days
                conn.execute("select * from ops.maintain()").fetchall()
            for table in TABLES:
                conn.execute(f"vacuum analyze kstore.{table}")
            found = {t: measure_heap(conn, t) for t in TABLES}
            if path == "timescaledb":
                conn.execute("select * from ops.maintain()").fetchall()
                for table, measured in found.items():
                    measure_compressed(conn, table, measured)
        return found
    finally:
        server.stop()


def load(conn: psycopg.Connection, args: argparse.Namespace) -> None:
    """The generated rows (the same on every path)."""
    params = {"days": args.days, "markets": args.markets}
    conn.execute(TRADES, {**params, "n": args.trades})
    conn.execute(DELTAS, {**params, "n": args.deltas})


def measure_heap(conn: psycopg.Connection, table: str) -> Measured:
    rows = conn.execute(f"select count(*) from kstore.{table}").fetchone()[0]
    size = conn.execute(SIZE_BEFORE, (f"kstore.{table}",)).fetchone()[0]
    return Measured(rows, size)


def measure_compressed(conn: psycopg.Connection, table: str, measured: Measured) -> None:
    """Fills in the compressed size (and the rows per segment) of `table` after maintain."""
    after, before, chunks = conn.execute(SIZE_COMPRESSED, (f"kstore.{table}",)).fetchone()
    measured.compressed_bytes, measured.chunks = after, chunks
    if before:
        measured.heap_bytes = before
    mean, median = conn.execute(SEGMENT_ROWS.format(table=f"kstore.{table}")).fetchone()
    measured.segment_rows = (float(mean), int(median))
    measured.columns = column_bytes(conn, table, measured.rows)


def column_bytes(conn: psycopg.Connection, table: str, rows: int) -> dict[str, float]:
    """Bytes per row of each column of the compressed form (values, TimescaleDB's per-batch
    metadata and sparse indexes), heaviest first: where the compressed bytes go."""
    chunks = [r[0] for r in conn.execute(COMPRESSED_CHUNKS, (table,))]
    if not chunks:
        return {}
    names = [r[0] for r in conn.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0"
        " and not attisdropped order by attnum", (chunks[0],))]
    sums = sql.SQL(", ").join(
        sql.SQL("sum(pg_column_size({}))").format(sql.Identifier(n)) for n in names)
    union = sql.SQL(" union all ").join(
        sql.SQL("select * from {}").format(sql.SQL(c)) for c in chunks)
    totals = conn.execute(sql.SQL("select {} from ({}) as c").format(sums, union)).fetchone()
    sizes = {n: float(t or 0) / rows for n, t in zip(names, totals)}
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


def report(results: dict[str, dict[str, Measured]], args: argparse.Namespace) -> None:
    """The table of BENCHMARKS.md: bytes per row per table and path, and the ratios."""
    print(f"\n{args.trades} trades, {args.deltas} deltas over {args.markets} markets "
          f"(Zipf), {args.days} days; bytes per row (heap + TOAST + indexes)\n")
    print("| table | path | rows | heap + indexes | compressed | ratio | chunks "
          "| rows per market per chunk (mean / median) |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for path, tables in results.items():
        for table, m in tables.items():
            ratio = m.ratio()
            segments = "-" if m.segment_rows is None else \
                f"{m.segment_rows[0]:.0f} / {m.segment_rows[1]}"
            print(f"| {table} | {path} | {m.rows} | {m.per_row(m.heap_bytes)} "
                  f"| {m.per_row(m.compressed_bytes)} "
                  f"| {'-' if ratio is None else f'{ratio:.1f}×'} | {m.chunks or '-'} "
                  f"| {segments} |")
    for table, m in results.get("timescaledb", {}).items():
        shown = {n: b for n, b in (m.columns or {}).items() if b >= SHOWN_COLUMN_BYTES}
        print(f"\n{table} compressed, bytes per row of its heaviest columns: "
              + ", ".join(f"{n} {b:.2f}" for n, b in shown.items()))
    if "plain" in results and "timescaledb" in results:
        print()
        for table in TABLES:
            plain, tsdb = results["plain"][table], results["timescaledb"][table]
            if tsdb.compressed_bytes:
                print(f"{table}: plain heap + indexes / compressed = "
                      f"{plain.heap_bytes / tsdb.compressed_bytes:.1f}× "
                      f"(target ≥ {TARGET_RATIO:.0f}×)")
