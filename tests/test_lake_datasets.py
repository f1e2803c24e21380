"""The lake's complete datasets (decision 0046) against a real production database: daily
snapshots of series/events/markets taken when the day ends or at the final close, holding every
market known that day; the version history and the merged feed gaps exported row for row with
the verified windows of the time series (changes after the export re-open their window);
`kstore query` views for each; the hook for the reconciliation results.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from conftest import PG_BIN, run_kstore
from kstore.lake import export, query
from kstore.lake.destination import open_lake
from kstore.lake.export import Exporter
from kstore.lake.testing import add_reference
from kstore.lake.windows import raw, raw_dataset

UTC = timezone.utc
DAY = timedelta(days=1)
PULLED = ("trades", "orderbook_deltas", "orderbook_snapshots", "tickers")


@pytest.fixture
def lake_db(server, tmp_path):
    db = server.database("production")
    settings = server.settings(dsn={"production": db.dsn_as(export.EXPORTER)},
                               lake={"url": f"file://{tmp_path}/lake"})
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        yield db, conn, settings


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def capture(conn, stopped: bool) -> None:
    """g1 merged every pulled table up to now; `stopped`: its capture stopped (final close)."""
    for table in (*PULLED, "series", "events", "markets", "feed_gaps"):
        conn.execute(
            "insert into ops.dedup_cursors (gatherer_id, table_name, caught_up, last_pull_at,"
            " source_stopped_at) values ('g1', %s, true, now(), %s) on conflict (gatherer_id,"
            " table_name) do update set last_pull_at = now(), source_stopped_at ="
            " excluded.source_stopped_at",
            [table, datetime.now(UTC) - timedelta(seconds=5) if stopped else None])


def add_markets(conn, first: int, count: int) -> None:
    conn.execute(
        "insert into kstore.markets (market_ticker, event_ticker, series_ticker, status, raw)"
        " select format('KXM-LATE-T%%s', i), 'KXM-25JAN01', 'KXM', 'active', '{}'"
        " from generate_series(%s::int, %s::int) as i", [first, first + count - 1])


def add_gaps(conn, rows: int) -> None:
    conn.execute(
        "insert into kstore.feed_gaps (gatherer_id, gap_id, connection_id, sid, channel,"
        " expected_seq, received_seq, detected_at, cause, market_ticker)"
        " select 'g1', i, 'c1', 1, 'orderbook_delta', 10 * i, 10 * i + 3,"
        " now() - interval '2 days' + i * interval '1 minute', 'seq_jump', 'KXM-T1'"
        " from generate_series(1, %s) as i", [rows])


def lake_rows(settings, prefix: str) -> int:
    lake = open_lake(settings)
    return lake.connect().execute(
        "select count(*) from read_parquet(?, hive_partitioning = false)",
        [lake.uri(f"{prefix}/**/*.parquet")]).fetchone()[0]


def differences(settings, table: str) -> int:
    """Rows in production's table and not in the lake, or the other way round (every column
    but xact_id, compared by DuckDB with production attached)."""
    with Exporter(settings) as exporter:
        lake = exporter.lake.uri(f"raw/{table}/**/*.parquet")
        source = f"select * exclude (xact_id) from prod.kstore.{table}"
        parquet = "select * from read_parquet(?, hive_partitioning = false)"
        return exporter.duck.execute(
            f"select (select count(*) from ({source} except all {parquet})) +"
            f" (select count(*) from ({parquet} except all {source}))", [lake, lake]
        ).fetchone()[0]


def test_history_gaps_and_snapshots_are_lake_datasets(lake_db):
    db, conn, settings = lake_db
    found = {d.manifest_name: (d.time_column, d.granularity, d.prefix) for d in raw(conn)}
    assert {name: found[name] for name in ("series_history", "events_history",
                                           "markets_history", "feed_gaps")} == {
        "series_history": ("recorded_at", "day", "raw/series_history"),
        "events_history": ("recorded_at", "day", "raw/events_history"),
        "markets_history": ("recorded_at", "day", "raw/markets_history"),
        "feed_gaps": ("detected_at", "day", "raw/feed_gaps"),
    }
    assert found["markets"] == ("changed_at", "snapshot", "raw/markets")


def test_gaps_and_history_match_production_row_for_row(lake_db):
    db, conn, settings = lake_db
    add_reference(conn, markets=7)
    conn.execute("update kstore.markets set status = 'closed', raw = '{\"v\": 2}',"
                 " updated_time = now() where market_ticker like 'KXM1-%'")  # a 2nd version
    add_gaps(conn, 30)
    capture(conn, stopped=True)
    first = {r.dataset: r for r in export.cycle(settings)}
    recovered = conn.execute("update kstore.feed_gaps set recovered_at = detected_at +"
                             " interval '1 second', recovery = 'resnapshot' where gap_id <= 3")
    second = {r.dataset: r for r in export.cycle(settings)}

    for table in ("series_history", "events_history", "markets_history", "feed_gaps"):
        assert first[table].windows and not first[table].failed, first[table].line()
        assert differences(settings, table) == 0, table
    assert lake_rows(settings, "raw/markets_history") == 8 == conn.execute(
        "select count(*) from kstore.markets_history").fetchone()[0]
    assert lake_rows(settings, "raw/feed_gaps") == 30
    assert recovered.rowcount == 3 and second["feed_gaps"].marked == 1, "recovery re-opens it"
    assert [w.verified for w in second["feed_gaps"].windows] == [True]
    con, catalog = query.connect(settings)
    for view in ("raw_series_history", "raw_events_history", "raw_markets_history",
                 "raw_feed_gaps", "raw_markets"):
        assert view in catalog.views, view
    assert con.execute("select count(*) from raw_feed_gaps where recovered_at is not null"
                       ).fetchone()[0] == 3


def snapshot_key(conn, day: datetime) -> str:
    return conn.execute("select ops.lake_object_key('raw/markets', 'snapshot', %s)",
                        [day]).fetchone()[0]


def snapshot(settings, key: str) -> set[str]:
    lake = open_lake(settings)
    return {ticker for (ticker,) in lake.connect().execute(
        "select market_ticker from read_parquet(?)", [lake.uri(key)]).fetchall()}


def test_the_markets_snapshot_of_a_day_holds_every_market_seen_that_day(lake_db):
    """Capture starts today with nothing known before: no snapshot is filed under yesterday.
    While capturing, today's snapshot waits for the day's end; at the final close it is taken;
    capture starting again the same day re-takes it with the markets seen since."""
    db, conn, settings = lake_db
    markets = raw_dataset(conn, "markets")
    add_reference(conn, markets=7)
    capture(conn, stopped=False)
    with Exporter(settings) as exporter:
        capturing = exporter.export(markets)
        capture(conn, stopped=True)
        final = exporter.export(markets)
        add_markets(conn, 1, 37)  # capture starts again today: 44 markets known
        capture(conn, stopped=True)
        again = exporter.export(markets)
        unchanged = exporter.export(markets)

    seen = {t for (t,) in conn.execute(
        "select distinct market_ticker from kstore.markets_history where recorded_at >= %s",
        [today()]).fetchall()}
    assert capturing.windows == [], "neither yesterday (nothing known) nor today (not over)"
    assert [w.key for w in final.windows] == [snapshot_key(conn, today())]
    assert [(w.verified, w.found.rows) for w in again.windows] == [(True, 44)]
    assert unchanged.windows == [], "one snapshot per day unless the day changed"
    assert len(seen) == 44 and snapshot(settings, snapshot_key(conn, today())) >= seen


def test_an_ops_table_listed_in_the_hook_is_exported(lake_db):
    """The reconciliation results of `kstore reconcile` live in ops: windows.OPS_DATASETS
    exports them (daily windows of checked_at) like every other dataset."""
    db, conn, settings = lake_db
    run = conn.execute("insert into ops.reconciliation_runs (since, until) values (now() -"
                       " interval '3 days', now() - interval '2 days') returning run_id").fetchone()
    conn.execute("insert into ops.reconciliation (hour, market_ticker, exchange_trades,"
                 " production_trades, missing, unexpected, duplicated, run_id, checked_at)"
                 " select date_trunc('hour', now() - interval '3 days'), 'KXM-T' || i, i, 0, i,"
                 " 0, 0, %s, now() - interval '2 days' + i * interval '1 hour'"
                 " from generate_series(1, 5) as i", run)
    capture(conn, stopped=True)
    reports = {r.dataset: r for r in export.cycle(settings)}
    assert reports["reconciliation"].verified and not reports["reconciliation"].failed
    assert lake_rows(settings, "raw/reconciliation") == 5


def test_a_fresh_kstore_up_leaves_complete_datasets_in_the_lake():
    """The issue's run: a fresh `kstore up` of a few seconds. Its final close takes today's
    snapshots holding every market production knows (none filed under yesterday), and exports
    the history and the gaps as production holds them; `kstore lake verify` finds all whole."""
    home = Path(tempfile.mkdtemp(prefix="kstore-lake-"))
    home.chmod(0o755)  # as root, the postgres user must be able to reach the clusters
    env = {"KSTORE_HOME": str(home), "KSTORE_PG_BIN": str(PG_BIN), "KSTORE_TIMESCALEDB": "off"}
    try:
        up = run_kstore("up", "--seed", "7", "--duration", "10", "--faults", "gaps", env=env,
                        timeout=240)
        assert up.returncode == 0, up.stdout + up.stderr
        verified = run_kstore("lake", "verify", env=env)
        lake = {view: count_rows(env, view) for view in (
            "raw_markets", "raw_events", "raw_series", "raw_markets_history", "raw_feed_gaps")}
        port = json.loads((home / "topology.json").read_text())["clusters"]["production"]["port"]
        with psycopg.connect(f"host=127.0.0.1 port={port} dbname=production user=postgres") as c:
            production = {f"raw_{table}": c.execute(f"select count(*) from kstore.{table}"
                                                     ).fetchone()[0]
                          for table in ("markets", "events", "series", "markets_history",
                                        "feed_gaps")}
            early = c.execute("select count(*) from ops.export_manifest where table_name in"
                              " ('series', 'events', 'markets') and window_start < %s",
                              [today()]).fetchone()[0]
    finally:
        run_kstore("db", "down", env=env)
        shutil.rmtree(home, ignore_errors=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert production["raw_markets"] > 0 and lake == production
    assert early == 0, "no snapshot filed under a day before anything was captured"


def count_rows(env: dict, view: str) -> int:
    done = run_kstore("query", f"select count(*) as n from {view}", "--format", "csv", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return int(done.stdout.split()[1])
