"""The exporter's calls into production (psycopg, as kstore_exporter).

The lake's state machine lives in production's SQL (sql/production/ops_lake_*.sql), next to
the guarded retention that reads the same manifest:
- ops.export_manifest: one row per window. verified_at is set only after the object was read
  back and matched production; a row with verified_at null is a window still to (re-)export
  (its row_count etc. describe the last attempt, 0 when there was none). Guarded retention
  reads only verified rows.
- ops.export_cursors: per table, the transaction-id horizon below which every production row
  has been looked at for changes to exported windows (V0023).
- ops.dedup_cursors: when each gatherer was last caught up, and whether its capture stopped,
  which decides when a window closes (ops.lake_close).
This module only passes a dataset's description to those functions and reads the relation's
columns. Times are UTC (the session time zone is pinned).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from kstore.lake.windows import Dataset, Window

INTERNAL_TYPES = ("xid8", "xid")  # production's own transaction ids: meaningless in the lake
log = logging.getLogger("kstore.export")


@dataclass(frozen=True)
class Stats:
    """Rows of one window, and the range of its time column."""

    rows: int
    min_ts: datetime | None
    max_ts: datetime | None


EMPTY = Stats(0, None, None)


def connect(dsn: str) -> psycopg.Connection:
    """Production; the warnings its lake functions raise (e.g. export cursors ahead of a
    restored server's transaction ids) go to the exporter's log."""
    conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10, options="-c timezone=UTC")
    conn.add_notice_handler(_log_warning)
    return conn


def _log_warning(notice: psycopg.errors.Diagnostic) -> None:
    if notice.severity_nonlocalized == "WARNING":
        log.warning("export: %s", notice.message_primary)


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


def _described(dataset: Dataset) -> list:
    """The arguments every ops.lake_* function takes to know a dataset."""
    return [dataset.manifest_name, dataset.relation, dataset.time_column, dataset.granularity,
            dataset.prefix]


def closed_until(conn: psycopg.Connection, dataset: Dataset, close_after: timedelta,
                 dead_after: timedelta) -> datetime | None:
    """Where the dataset is closed (ops.lake_closed_until, decisions 0014 and 0015): no merged
    row can still fall before it. None: nothing is closed yet."""
    return conn.execute(
        "select ops.lake_closed_until(%s, %s, %s, %s)",
        [dataset.manifest_name, dataset.granularity, close_after, dead_after]).fetchone()[0]


def plan(conn: psycopg.Connection, dataset: Dataset, closed: datetime) -> list[Window]:
    """The closed windows still to (re-)export, oldest first (ops.lake_plan records new ones)."""
    rows = conn.execute("select * from ops.lake_plan(%s, %s::regclass, %s, %s, %s, %s)",
                        [*_described(dataset), closed]).fetchall()
    return [Window(*row) for row in rows]


def stats(conn: psycopg.Connection, dataset: Dataset, start: datetime,
          end: datetime) -> dict[datetime, Stats]:
    """Production's rows and time range per window in [start, end); a snapshot: the whole
    relation, as the window starting at `start`."""
    rows = conn.execute("select * from ops.lake_stats(%s::regclass, %s, %s, %s, %s)",
                        [dataset.relation, dataset.time_column, dataset.granularity, start, end])
    return {start: Stats(count, low, high) for start, count, low, high in rows}


def record(conn: psycopg.Connection, dataset: Dataset, window: Window, found: Stats,
           byte_count: int | None, checksum: str | None, verified: bool) -> None:
    """The window as the lake now holds it; verified only when it matched production."""
    conn.execute("select ops.lake_record(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                 [dataset.manifest_name, window.start, window.end, window.key, found.rows,
                  byte_count, checksum, found.min_ts, found.max_ts, verified])


def mark_changed_since(conn: psycopg.Connection, name: str, since: datetime) -> int:
    """Re-export every window ending after `since` (a rebuilt dbt model says what it rebuilt)."""
    return conn.execute("select ops.lake_mark_since(%s, %s)", [name, since]).fetchone()[0]


def mark_changed_rows(conn: psycopg.Connection, dataset: Dataset) -> int:
    """Windows holding rows that reached production since the last look (xact_id cursor):
    late rows of a closed window, a dead gatherer coming back, a backfill."""
    return conn.execute("select ops.lake_mark_changed_rows(%s, %s::regclass, %s, %s, %s)",
                        _described(dataset)).fetchone()[0]


def mark_changed_counts(conn: psycopg.Connection, dataset: Dataset) -> int:
    """For relations without xact_id (dbt models): windows whose row count differs from the
    verified manifest row."""
    return conn.execute("select ops.lake_mark_changed_counts(%s, %s::regclass, %s, %s, %s)",
                        _described(dataset)).fetchone()[0]


def try_lock(conn: psycopg.Connection, name: str) -> bool:
    """One exporter per dataset at a time (session advisory lock, released on disconnect)."""
    return conn.execute("select pg_try_advisory_lock(hashtext('kstore export ' || %s))",
                        [name]).fetchone()[0]


def unlock(conn: psycopg.Connection, name: str) -> None:
    conn.execute("select pg_advisory_unlock(hashtext('kstore export ' || %s))", [name])


@dataclass(frozen=True)
class Recorded:
    """A verified window as the manifest recorded it: what its object must still be."""

    dataset: str
    start: datetime
    key: str
    rows: int
    byte_count: int | None
    checksum: str | None


def scrub_plan(conn: psycopg.Connection, dataset: str | None = None,
               since: datetime | None = None, verified_before: datetime | None = None,
               limit: int | None = None) -> list[Recorded]:
    """Verified windows to read again, least recently verified first (ops.lake_scrub_plan)."""
    rows = conn.execute("select * from ops.lake_scrub_plan(%s, %s, %s, %s)",
                        [dataset, since, verified_before, limit]).fetchall()
    return [Recorded(*row) for row in rows]


def check(conn: psycopg.Connection, window: Recorded, problem: str | None) -> bool:
    """Record a scrub's outcome: None re-verifies the window, a problem un-verifies it
    (ops.lake_check). False: the window was re-opened or re-exported meanwhile (nothing
    recorded)."""
    return conn.execute("select ops.lake_check(%s, %s, %s, %s)",
                        [window.dataset, window.start, window.checksum, problem]).fetchone()[0]


def damaged(conn: psycopg.Connection) -> list[tuple[str, datetime, str, str]]:
    """(dataset, window start, object key, damage) of every window still damaged."""
    return conn.execute(
        "select table_name, window_start, object_key, damage from ops.export_manifest"
        " where damage is not null order by table_name, window_start").fetchall()


def not_repaired(conn: psycopg.Connection, dataset: str, start: datetime, reason: str) -> None:
    """Say beside a window's damage why the exporter could not repair it (ops.lake_damaged)."""
    conn.execute("select ops.lake_damaged(%s, %s, %s)", [dataset, start, reason])


def health_summary(conn: psycopg.Connection) -> str:
    """ops.lake_health in one line."""
    return conn.execute("select ops.lake_health_summary()").fetchone()[0]
