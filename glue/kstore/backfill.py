"""`kstore backfill --from g2|production --to g1 --table T --since TS --until TS`: refill a
gatherer that was down from another gatherer or from production (DESIGN §6).

Guarantees: after a run, every source row with `since <= time < until` is on the target exactly
once; a row the target already holds is skipped by its dedup key (`on conflict do nothing`), so
a second run inserts nothing. The range is cut into windows on the UTC grid (an hour by
default), each its own target transaction: the source streams `copy (select …) to stdout
(format binary)` straight into kstore.copyload's staging table on the target (binary COPY), then
its `insert … select … on conflict do nothing` moves the window. Python only passes byte chunks
along; it never touches a row. A window that fails leaves nothing behind, and a rerun resumes.

Only the columns both sides have are copied, never `xact_id` (the target stamps its own, so the
deduplicator pulls the refilled rows again and skips them by key) nor `merged_at`; `gatherer_id`
stays the capturing gatherer's, which keeps per-gatherer keys (snapshots, key-scoped deltas)
matching their copies in production. Reads connect as the source's configured (admin) DSN in
read-only transactions, writes as the target's `kstore_gatherer_writer`.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg import sql
from tqdm import tqdm

from kstore import catalog, copyload, roles, topology
from kstore.settings import Settings, SettingsError, utc_time

WRITER = roles.GATHERER_WRITER
NEVER_COPIED = frozenset({"xact_id", "merged_at"})
WINDOW_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# A window's COPY and insert can run far longer than the writer role's 10 s bound for live
# batches. An open window only holds back the target's transaction horizon, so merging that
# gatherer pauses until it commits; the cursor never skips a row (decision 0012).
WINDOW_TIMEOUT = "15min"
ATTEMPTS = 3  # a window that loses a deadlock with the live writer is simply run again


@dataclass(frozen=True)
class Plan:
    """A validated backfill: source and target databases, tables (as the target's table catalog
    describes them), half-open time range."""

    source: topology.Database
    target: topology.Database
    tables: tuple[catalog.Table, ...]
    since: datetime
    until: datetime
    window: timedelta = timedelta(hours=1)


@dataclass
class Counts:
    """What a run did to one table (or in all): windows committed, rows read and inserted."""

    windows: int = 0
    read: int = 0
    inserted: int = 0

    @property
    def skipped(self) -> int:
        return self.read - self.inserted


@dataclass(frozen=True)
class TableCopy:
    """How one table's window moves: read from the source, loaded into the target."""

    copy_out: sql.Composed
    load: copyload.Load


@dataclass
class Result:
    """A run's plan and its counts per table."""

    plan: Plan
    tables: dict[str, Counts] = field(default_factory=dict)

    @property
    def total(self) -> Counts:
        counts = self.tables.values()
        return Counts(sum(c.windows for c in counts), sum(c.read for c in counts),
                      sum(c.inserted for c in counts))


def plan(settings: Settings, source: str, target: str, table: str, since: datetime,
         until: datetime, window: timedelta = timedelta(hours=1)) -> Plan:
    """Checks the request; raises SettingsError (one line) on anything it cannot do. The tables
    are those the target's table catalog marks for backfill (`table` names one, or all)."""
    _check_endpoints(settings, source, target)
    if until <= since:
        raise SettingsError(f"backfill: --until {until.isoformat()} is not after --since "
                            f"{since.isoformat()}")
    if window <= timedelta(0):
        raise SettingsError("backfill: --window must be positive")
    source_db, target_db = _database(settings, source), _database(settings, target)
    return Plan(source_db, target_db, _tables(target_db, table), since, until, window)


def _tables(target: topology.Database, table: str) -> tuple[catalog.Table, ...]:
    with psycopg.connect(writer_dsn(target), connect_timeout=10) as conn:
        backfilled = catalog.select(catalog.load(conn), backfill=True, here=True)
    chosen = tuple(t for t in backfilled if table in ("all", t.name))
    if not chosen:
        raise SettingsError(f"backfill: unknown table {table!r} (one of "
                            f"{', '.join(catalog.names(backfilled))}, or all)")
    return chosen


def _check_endpoints(settings: Settings, source: str, target: str) -> None:
    """The target is a configured gatherer; the source another one, or production."""
    if target not in settings.gatherers:
        raise SettingsError(f"backfill: target {target!r} is not a gatherer (configured: "
                            f"{', '.join(settings.gatherers)}); production is filled by dedup")
    if source != topology.PRODUCTION and source not in settings.gatherers:
        raise SettingsError(f"backfill: unknown source {source!r} (a gatherer: "
                            f"{', '.join(settings.gatherers)}, or production)")
    if source == target:
        raise SettingsError(f"backfill: source and target are both {target!r}")


def _database(settings: Settings, name: str) -> topology.Database:
    """The time-series database of a gatherer id, or production."""
    db = topology.database(settings, name if name == topology.PRODUCTION else f"{name}_ts")
    db.dsn_for()  # refuses a database that is neither created nor configured
    return db


def writer_dsn(db: topology.Database) -> str:
    """How the target is written: as its writer role (embedded), or as configured."""
    return db.dsn_for(WRITER)


WINDOWS_SQL = """
select greatest(w, %(since)s), least(w + %(step)s, %(until)s)
from generate_series(ops.window_start(%(since)s, %(step)s), %(until)s, %(step)s) as w
where w < %(until)s
order by w
"""


def windows(conn: psycopg.Connection, since: datetime, until: datetime,
            step: timedelta) -> list[tuple[datetime, datetime]]:
    """[since, until) cut on kstore's one time grid (ops.window_start): hourly windows are whole
    hours except the first and last, so a window stays inside one partition or chunk."""
    rows = conn.execute(WINDOWS_SQL, {"since": since, "until": until, "step": step}).fetchall()
    return [(start, end) for start, end in rows]


def table_copy(source: psycopg.Connection, target: psycopg.Connection, table: str,
               time_column: str, key: tuple[str, ...]) -> TableCopy:
    """Statements for `table`: the source's columns that the target also has (never xact_id
    or merged_at), staged in the source's types so binary COPY reads them unchanged;
    windows cut on `time_column`, rows already there skipped by `key`."""
    provided = copyload.columns(source, table)
    accepted = {column for column, _ in copyload.columns(target, table)}
    if not provided or not accepted:
        raise SettingsError(f"backfill: kstore.{table} is missing on the "
                            f"{'source' if not provided else 'target'} (migrate it first)")
    load = copyload.load_sql(table, [(column, kind) for column, kind in provided
                                     if column in accepted and column not in NEVER_COPIED], key)
    time = sql.Identifier(time_column)
    return TableCopy(
        sql.SQL("copy (select {} from {} where {} >= %s and {} < %s) to stdout (format binary)")
        .format(sql.SQL(", ").join(map(sql.Identifier, load.columns)),
                sql.Identifier("kstore", table), time, time),
        load)


def copy_window(source: psycopg.Connection, target: psycopg.Connection, spec: TableCopy,
                start: datetime, end: datetime) -> tuple[int, int]:
    """Moves [start, end) of one table in one target transaction; returns (read, inserted)."""
    with target.transaction(), source.cursor() as out_cur, target.cursor() as in_cur:
        in_cur.execute("select set_config('statement_timeout', %s, true)", [WINDOW_TIMEOUT])
        with out_cur.copy(spec.copy_out, [start, end]) as out:
            staged = copyload.stage_chunks(in_cur, spec.load, out)
        read = out_cur.rowcount
        if read != staged:
            raise RuntimeError(f"backfill: {spec.load.table} [{start}, {end}): source sent "
                               f"{read} rows, target staged {staged}")
        return read, copyload.insert(in_cur, spec.load)


def copy_window_retrying(source: psycopg.Connection, target: psycopg.Connection,
                         spec: TableCopy, start: datetime, end: datetime) -> tuple[int, int]:
    """copy_window, run again when the target aborted it (deadlock, serialization)."""
    attempt = 1
    while True:
        try:
            return copy_window(source, target, spec, start, end)
        except psycopg.errors.TransactionRollback:
            if attempt == ATTEMPTS:
                raise
            attempt += 1


def run(plan: Plan, progress: bool = True) -> Result:
    """Backfills every table of `plan`, window after window; returns the counts per table."""
    result = Result(plan)
    with psycopg.connect(writer_dsn(plan.target), autocommit=True) as target:
        edges = windows(target, plan.since, plan.until, plan.window)
    bar = tqdm(total=len(edges) * len(plan.tables), unit="window", file=sys.stderr,
               desc=f"backfill {_label(plan.source)} -> {_label(plan.target)}",
               disable=not progress, dynamic_ncols=True)
    with bar, psycopg.connect(plan.source.dsn, autocommit=True) as source, \
            psycopg.connect(writer_dsn(plan.target), autocommit=True) as target:
        source.execute("set default_transaction_read_only = on")
        for entry in plan.tables:
            table = entry.name
            spec = table_copy(source, target, table, entry.time_column, entry.key_columns)
            counts = result.tables.setdefault(table, Counts())
            for start, end in edges:
                read, inserted = copy_window_retrying(source, target, spec, start, end)
                counts.windows += 1
                counts.read += read
                counts.inserted += inserted
                total = result.total
                bar.set_postfix({"table": table, "rows": f"{total.read:,}",
                                 "inserted": f"{total.inserted:,}"}, refresh=False)
                bar.update(1)
    return result


def summary(result: Result) -> str:
    plan, total, tables = result.plan, result.total, ",".join(catalog.names(result.plan.tables))
    return (f"backfill {_label(plan.source)} -> {_label(plan.target)} "
            f"[{plan.since.isoformat()}, {plan.until.isoformat()}) "
            f"{tables}: {total.windows} windows, rows read {total.read}, "
            f"inserted {total.inserted}, skipped {total.skipped}")


def _label(db: topology.Database) -> str:
    return db.cluster if db.kind == "gatherer_ts" else db.name



def parse_window(text: str) -> timedelta:
    """`90s`, `15m`, `1h`, `1d`."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match or int(match[1]) == 0:
        raise SettingsError(f"backfill: --window {text!r} is not a positive duration "
                            "like 15m, 1h or 1d")
    return timedelta(**{WINDOW_UNITS[match[2]]: int(match[1])})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore backfill` (the CLI adds them to its subcommand)."""
    parser.add_argument("--from", dest="source", required=True,
                        help="gatherer id (e.g. g2) or production")
    parser.add_argument("--to", dest="target", required=True, help="gatherer id to refill")
    parser.add_argument("--table", default="all",
                        help="a table marked for backfill in the table catalog (trades, …) "
                             "or all (default)")
    parser.add_argument("--since", required=True, help="ISO time, inclusive (UTC if no offset)")
    parser.add_argument("--until", required=True, help="ISO time, exclusive (UTC if no offset)")
    parser.add_argument("--window", default="1h",
                        help="time span per transaction: 15m, 1h (default), 1d")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Runs the backfill and prints one summary line; bad input raises SettingsError."""
    checked = plan(settings, args.source, args.target, args.table,
                   utc_time(args.since, "backfill: --since"),
                   utc_time(args.until, "backfill: --until"),
                   parse_window(args.window))
    print(summary(run(checked, progress=not args.no_progress)))
    return 0
