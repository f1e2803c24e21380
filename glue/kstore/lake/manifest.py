"""What the exporter reads and writes in production (psycopg, as kstore_exporter).

- ops.export_manifest: one row per window. verified_at is set only after the object was read
  back and matched production; a row with verified_at null is a window still to (re-)export
  (its row_count etc. describe the last attempt, 0 when there was none). Guarded retention
  reads only verified rows.
- ops.export_cursors: per table, the transaction-id horizon below which every production row
  has been looked at for changes to exported windows (V0023).
- ops.dedup_cursors: when each gatherer was last caught up, and whether its capture stopped,
  which decides when a window closes.

Times are UTC (the session time zone is pinned); windows are aligned with date_bin on
2000-01-01 UTC, the same grid as windows.Dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import psycopg
from psycopg import sql

from kstore.lake.windows import EPOCH, Dataset, Window

INTERNAL_TYPES = ("xid8", "xid")  # production's own transaction ids: meaningless in the lake


@dataclass(frozen=True)
class Stats:
    """Rows of one window, and the range of its time column."""

    rows: int
    min_ts: datetime | None
    max_ts: datetime | None


EMPTY = Stats(0, None, None)


def connect(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True, connect_timeout=10, options="-c timezone=UTC")


def _relation(dataset: Dataset) -> sql.Identifier:
    return sql.Identifier(*dataset.relation.split(".", 1))


def columns(conn: psycopg.Connection, relation: str) -> list[tuple[str, str]]:
    """(name, type) of the relation's exported columns, in table order."""
    rows = conn.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute as a"
        " where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped"
        " order by a.attnum", [relation]).fetchall()
    if not rows:
        raise LookupError(f"{relation}: no such relation in production (or no columns)")
    return [(name, kind) for name, kind in rows if kind not in INTERNAL_TYPES]


def has_column(conn: psycopg.Connection, relation: str, column: str) -> bool:
    return conn.execute(
        "select exists (select from pg_attribute where attrelid = %s::regclass"
        " and attname = %s and not attisdropped)", [relation, column]).fetchone()[0]


def primary_key(conn: psycopg.Connection, relation: str) -> list[str]:
    rows = conn.execute(
        "select a.attname from pg_index as i"
        " cross join lateral unnest(i.indkey) with ordinality as k (attnum, position)"
        " inner join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = k.attnum"
        " where i.indrelid = %s::regclass and i.indisprimary order by k.position",
        [relation]).fetchall()
    return [name for (name,) in rows]


CLOSE_BOUND = """
with cursors as (
    select
        c.table_name,
        c.source_stopped_at,
        case when c.caught_up then c.last_pull_at
            else greatest(c.watermark, timestamptz '1970-01-01 00:00+00') end as caught_up_at,
        max(c.last_pull_at) over (partition by c.gatherer_id) as gatherer_seen,
        max(c.last_pull_at) over () as freshest
    from ops.dedup_cursors as c
),
live as (
    select * from cursors
    where table_name = %(table)s and gatherer_seen >= freshest - %(dead_after)s
)
select
    now(),
    (select count(*) from cursors where table_name = %(table)s),
    (select count(*) from live),
    (select min(caught_up_at) from live where source_stopped_at is null),
    (select max(source_stopped_at) from live)
"""


class Close(NamedTuple):
    """Windows ending at or before `until` are closed. `final`: every live gatherer has stopped
    and is merged, so no row can arrive until one starts again, and the window holding `until`
    is closed as well (decision 0015)."""

    until: datetime
    final: bool = False


def closed_until(conn: psycopg.Connection, table: str, close_after: timedelta,
                 dead_after: timedelta) -> Close | None:
    """Where `table` is closed: no merged row can still fall before it.

    A gatherer is live while its newest pull (any table) is within dead_after of the newest pull
    of any gatherer; a gatherer with no pull at all is not live. A live gatherer that captures
    has all its rows up to its caught-up time merged: the time of its last pull if that pull
    found less than a page, else the receive time of its newest merged row. The bound is the
    earliest of those, minus close_after (clock skew, commit delay). A live gatherer whose
    capture run stopped and is merged (source_stopped_at) holds nothing back; when every live
    one has, the close is final, from the latest stop (or the wall clock) plus close_after.
    Rows a dead gatherer delivers later, or a restarted one adds to a closed window, re-open
    their windows (mark_changed_rows). A table without any dedup cursor is not fed by the
    deduplicator (loaded directly): wall clock minus close_after. None: nothing closed yet."""
    now, cursors, live, capturing, stopped = conn.execute(
        CLOSE_BOUND, {"table": table, "dead_after": dead_after}).fetchone()
    if cursors == 0:
        return Close(now - close_after)
    if live == 0:
        return None
    if capturing is not None:
        return Close(min(capturing, now) - close_after)
    return Close(max(stopped + close_after, now - close_after), final=True)


def frontier(conn: psycopg.Connection, name: str) -> datetime | None:
    """The end of the newest window the manifest knows for this dataset."""
    return conn.execute("select max(window_end) from ops.export_manifest where table_name = %s",
                        [name]).fetchone()[0]


def first_time(conn: psycopg.Connection, dataset: Dataset) -> datetime | None:
    """The oldest time in the relation (a full scan, run once: before the first export)."""
    query = sql.SQL("select min({}::timestamptz) from {}").format(
        sql.Identifier(dataset.time_column), _relation(dataset))
    return conn.execute(query).fetchone()[0]


def _bin(dataset: Dataset) -> sql.Composed:
    return sql.SQL("date_bin({}, {}::timestamptz, {})").format(
        sql.Literal(dataset.step), sql.Identifier(dataset.time_column), sql.Literal(EPOCH))


def plan(conn: psycopg.Connection, dataset: Dataset, windows: list[Window]) -> int:
    """Record windows still to export (verified_at null); windows already known are kept."""
    if not windows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            "insert into ops.export_manifest (table_name, window_start, window_end, row_count,"
            " object_key) values (%s, %s, %s, 0, %s) on conflict do nothing",
            [(dataset.manifest_name, w.start, w.end, dataset.key(w.start)) for w in windows])
    return len(windows)


def pending(conn: psycopg.Connection, name: str, closed: datetime) -> list[Window]:
    rows = conn.execute(
        "select window_start, window_end from ops.export_manifest where table_name = %s"
        " and verified_at is null and window_end <= %s order by window_start",
        [name, closed]).fetchall()
    return [Window(start, end) for start, end in rows]


def is_verified(conn: psycopg.Connection, name: str, start: datetime) -> bool:
    return conn.execute(
        "select exists (select from ops.export_manifest where table_name = %s"
        " and window_start = %s and verified_at is not null)", [name, start]).fetchone()[0]


def previous_rows(conn: psycopg.Connection, name: str, start: datetime) -> int:
    found = conn.execute(
        "select row_count from ops.export_manifest where table_name = %s and window_start = %s",
        [name, start]).fetchone()
    return found[0] if found else 0


def stats(conn: psycopg.Connection, dataset: Dataset, start: datetime | None = None,
          end: datetime | None = None) -> dict[datetime, Stats] | Stats:
    """Production's rows and time range per window in [start, end); a snapshot: the whole."""
    if dataset.snapshot:
        column = sql.Identifier(dataset.time_column) if dataset.time_column else sql.NULL
        query = sql.SQL("select count(*), min({0}::timestamptz), max({0}::timestamptz)"
                        " from {1}").format(column, _relation(dataset))
        return Stats(*conn.execute(query).fetchone())
    column = sql.Identifier(dataset.time_column)
    query = sql.SQL(
        "select {bin} as w, count(*), min({t}::timestamptz), max({t}::timestamptz) from {rel}"
        " where {t} >= %s and {t} < %s group by w").format(
        bin=_bin(dataset), t=column, rel=_relation(dataset))
    return {w: Stats(n, lo, hi) for w, n, lo, hi in conn.execute(query, [start, end])}


def record(conn: psycopg.Connection, dataset: Dataset, window: Window, found: Stats,
           byte_count: int | None, checksum: str | None, verified: bool) -> None:
    """The window as the lake now holds it; verified only when it matched production."""
    conn.execute(
        "insert into ops.export_manifest as m (table_name, window_start, window_end, row_count,"
        " byte_count, object_key, checksum, min_ts, max_ts, exported_at, verified_at)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, now(), case when %s then now() end)"
        " on conflict (table_name, window_start) do update set"
        " window_end = excluded.window_end, row_count = excluded.row_count,"
        " byte_count = excluded.byte_count, object_key = excluded.object_key,"
        " checksum = excluded.checksum, min_ts = excluded.min_ts, max_ts = excluded.max_ts,"
        " exported_at = excluded.exported_at, verified_at = excluded.verified_at",
        [dataset.manifest_name, window.start, window.end, found.rows, byte_count,
         dataset.key(window.start), checksum, found.min_ts, found.max_ts, verified])


def mark_changed_since(conn: psycopg.Connection, name: str, since: datetime) -> int:
    """Re-export every window ending after `since` (a rebuilt dbt model says what it rebuilt)."""
    return conn.execute(
        "update ops.export_manifest set verified_at = null where table_name = %s"
        " and window_end > %s and verified_at is not null", [name, since]).rowcount


def _reopen(conn: psycopg.Connection, dataset: Dataset, touched: list[datetime],
            before: datetime | None) -> int:
    """Unverify touched windows the manifest has. Touched windows older than the frontier
    that it has not (history loaded after the export passed them) are planned with their whole
    UTC day, so the day's partition is covered exactly once its windows are verified."""
    if not touched:
        return 0
    marked = conn.execute(
        "update ops.export_manifest set verified_at = null where table_name = %s"
        " and window_start = any(%s) and verified_at is not null",
        [dataset.manifest_name, touched]).rowcount
    days = sorted({dataset.partition_start(start) for start in touched
                   if before is not None and start < before})
    known = {start for (start,) in conn.execute(
        "select window_start from ops.export_manifest where table_name = %s"
        " and window_start >= %s and window_start < %s",
        [dataset.manifest_name, days[0], days[-1] + timedelta(days=1)])} if days else set()
    older = [w for day in days for w in dataset.windows(day, day + timedelta(days=1))
             if w.start not in known]
    return marked + plan(conn, dataset, older)


def mark_changed_rows(conn: psycopg.Connection, dataset: Dataset) -> int:
    """Windows holding rows that reached production since the last look (xact_id cursor):
    late rows of a closed window, a dead gatherer coming back, a backfill. One transaction:
    the marks and the new horizon commit together. Returns the windows marked."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("set transaction isolation level repeatable read")
        horizon = cur.execute("select pg_snapshot_xmin(pg_current_snapshot())").fetchone()[0]
        row = cur.execute("select next_xid from ops.export_cursors where table_name = %s"
                          " for update", [dataset.manifest_name]).fetchone()
        before = frontier(conn, dataset.manifest_name)
        marked = 0
        if row is not None or before is not None:
            query = sql.SQL("select distinct {} from {} where xact_id >= %s::xid8").format(
                _bin(dataset), _relation(dataset))
            touched = [w for (w,) in cur.execute(query, [str(row[0]) if row else "0"])]
            marked = _reopen(conn, dataset, touched, before)
        cur.execute(
            "insert into ops.export_cursors as c (table_name, next_xid, scanned_at)"
            " values (%s, %s, now()) on conflict (table_name) do update"
            " set next_xid = excluded.next_xid, scanned_at = excluded.scanned_at",
            [dataset.manifest_name, horizon])
    return marked


def mark_changed_counts(conn: psycopg.Connection, dataset: Dataset) -> int:
    """For relations without xact_id (dbt models): windows whose row count differs from the
    verified manifest row (one grouped scan; the models are small)."""
    query = sql.SQL("select {} as w, count(*) from {} group by w").format(
        _bin(dataset), _relation(dataset))
    counts = dict(conn.execute(query).fetchall())
    verified = dict(conn.execute(
        "select window_start, row_count from ops.export_manifest where table_name = %s"
        " and verified_at is not null", [dataset.manifest_name]).fetchall())
    touched = [start for start in counts.keys() | verified.keys()
               if counts.get(start, 0) != verified.get(start, 0)]
    return _reopen(conn, dataset, sorted(touched), frontier(conn, dataset.manifest_name))


def try_lock(conn: psycopg.Connection, name: str) -> bool:
    """One exporter per dataset at a time (session advisory lock, released on disconnect)."""
    return conn.execute("select pg_try_advisory_lock(hashtext('kstore export ' || %s))",
                        [name]).fetchone()[0]


def unlock(conn: psycopg.Connection, name: str) -> None:
    conn.execute("select pg_advisory_unlock(hashtext('kstore export ' || %s))", [name])
