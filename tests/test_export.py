"""The lake export (`kstore export`, kstore.lake.export) against real production databases.

Production is loaded directly with SQL; the exporter connects as kstore_exporter; the lake is a
temporary folder, or a bucket on a real local S3 server (moto). Old fixed days with an explicit
`closed_until` keep the number of windows small; the close rule itself has its own test.
"""

from __future__ import annotations

import argparse
import hashlib
import threading
from datetime import datetime, timedelta, timezone

import duckdb
import psycopg
import pytest

from kstore import maintain
from kstore.lake import export, query
from kstore.lake.destination import open_lake
from kstore.lake.export import Exporter
from kstore.lake.manifest import Stats
from kstore.lake.testing import S3Server, add_reference, add_tickers, add_trades
from kstore.lake.windows import Dataset, Window, raw, raw_dataset

UTC = timezone.utc
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
D0 = datetime(2025, 1, 1, tzinfo=UTC)
TRADES_D0 = "raw/trades/dt=2025-01-01/hour=0/trades-2025-01-01T00.parquet"


@pytest.fixture(scope="module")
def s3():
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def lake_db(server, tmp_path):
    """A fresh production database (owner connection) on each storage path (TimescaleDB where
    the server has it) and settings for a file:// lake in tmp_path, with the exporter
    connecting as kstore_exporter."""
    db = server.database("production")
    settings = server.settings(dsn={"production": db.dsn_as(export.EXPORTER)},
                               lake={"url": f"file://{tmp_path}/lake"})
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        yield db, conn, settings


def manifest_rows(conn, table: str) -> dict[datetime, tuple]:
    rows = conn.execute(
        "select window_start, row_count, checksum, verified_at is not null, object_key"
        " from ops.export_manifest where table_name = %s order by window_start", [table])
    return {start: rest for start, *rest in rows}


def lake_count(settings, prefix: str) -> int:
    lake = open_lake(settings)
    con = lake.connect()
    return con.execute("select count(*) from read_parquet(?)",
                       [lake.uri(f"{prefix}/**/*.parquet")]).fetchone()[0]


def production_count(conn, table: str) -> int:
    return conn.execute(f"select count(*) from kstore.{table}").fetchone()[0]


def test_the_raw_datasets_are_the_catalog_tables_with_a_lake_grain(lake_db):
    db, conn, settings = lake_db
    found = {d.manifest_name: (d.relation, d.time_column, d.granularity, d.prefix)
             for d in raw(conn)}
    assert found == {
        "trades": ("kstore.trades", "ts", "hour", "raw/trades"),
        "orderbook_deltas": ("kstore.orderbook_deltas", "ts", "hour", "raw/orderbook_deltas"),
        "tickers": ("kstore.tickers", "ts", "hour", "raw/tickers"),
        "orderbook_snapshots": ("kstore.orderbook_snapshots", "captured_at", "day",
                                "raw/orderbook_snapshots"),
        "series": ("kstore.series", "changed_at", "snapshot", "raw/series"),
        "events": ("kstore.events", "changed_at", "snapshot", "raw/events"),
        "markets": ("kstore.markets", "changed_at", "snapshot", "raw/markets"),
        "series_history": ("kstore.series_history", "recorded_at", "day", "raw/series_history"),
        "events_history": ("kstore.events_history", "recorded_at", "day", "raw/events_history"),
        "markets_history": ("kstore.markets_history", "recorded_at", "day",
                            "raw/markets_history"),
        "feed_gaps": ("kstore.feed_gaps", "detected_at", "day", "raw/feed_gaps"),
        "reconciliation": ("ops.reconciliation", "checked_at", "day", "raw/reconciliation"),
    }
    with pytest.raises(LookupError, match="quarantine: not a lake table"):
        raw_dataset(conn, "quarantine")


def test_a_catalog_row_is_all_a_new_table_needs_to_reach_the_lake(lake_db):
    """A throw-away eighth table: created, given a catalog row with a lake grain, and the next
    cycle exports and verifies it; `kstore query` finds its folder. No Python lists it."""
    db, conn, settings = lake_db
    conn.execute("create table kstore.tap_things (thing_id bigint primary key,"
                 " ts timestamptz not null, xact_id xid8 not null default pg_current_xact_id());"
                 " grant select on kstore.tap_things to kstore_exporter")
    conn.execute("insert into ops.tables (table_name, homes, family, time_column, lake_grain,"
                 " lake_prefix, description) values ('tap_things', '{production}', 'timeseries',"
                 " 'ts', 'hour', 'raw/tap_things', 'a throw-away eighth table')")
    conn.execute("insert into kstore.tap_things (thing_id, ts) select i, now() - interval"
                 " '3 hours' + i * interval '1 second' from generate_series(1, 100) as i")

    reports = {report.dataset: report for report in export.cycle(settings)}
    con, catalog = query.connect(settings)

    assert reports["tap_things"].windows and not reports["tap_things"].failed
    assert lake_count(settings, "raw/tap_things") == 100
    assert catalog.views["raw_tap_things"] == "raw/tap_things"
    assert con.execute("select count(*) from raw_tap_things").fetchone()[0] == 100


def test_export_verifies_every_window_and_a_rerun_writes_the_same_bytes(lake_db):
    db, conn, settings = lake_db
    trades = raw_dataset(conn, "trades")
    add_trades(conn, D0 + HOUR, 2 * HOUR, 3000, markets=50)

    with Exporter(settings) as exporter:
        first = exporter.export(trades, closed_until=D0 + DAY)
        again = exporter.export(trades, closed_until=D0 + DAY)
        forced = exporter.export(trades, closed_until=D0 + DAY, reexport_from=D0)

    manifest = {start: row for start, row in manifest_rows(conn, "trades").items()}
    assert len(first.windows) == 24 and first.verified == 24, first.line()
    assert again.windows == [], "verified windows are not exported again"
    assert len(forced.windows) == 24 and forced.verified == 24
    assert [r.checksum for r in forced.windows] == [r.checksum for r in first.windows]
    assert sorted(open_lake(settings).keys("raw/trades")) == sorted(r[3] for r in manifest.values())
    assert all(verified for _, _, verified, _ in manifest.values())
    assert sum(rows for rows, *_ in manifest.values()) == 3000 == lake_count(settings, "raw/trades")
    assert manifest[D0 + HOUR][3] == \
        "raw/trades/dt=2025-01-01/hour=1/trades-2025-01-01T01.parquet"


def test_prices_and_sizes_stay_decimal_and_rows_are_ordered_by_time(lake_db):
    db, conn, settings = lake_db
    trades = raw_dataset(conn, "trades")
    add_trades(conn, D0, HOUR, 500, markets=10)
    with Exporter(settings) as exporter:
        exporter.export(trades, closed_until=D0 + HOUR)
        uri = exporter.lake.uri(TRADES_D0)
        types = dict(exporter.duck.execute(
            "select column_name, column_type from (describe select * from read_parquet(?))",
            [uri]).fetchall())
        rows = exporter.duck.execute("select ts, trade_id from read_parquet(?)",
                                     [uri]).fetchall()
    assert (types["yes_price"], types["no_price"], types["count"]) == (
        "DECIMAL(10,6)", "DECIMAL(10,6)", "DECIMAL(18,2)")
    assert (types["trade_id"], types["ts"]) == ("VARCHAR", "TIMESTAMP WITH TIME ZONE")
    assert "xact_id" not in types, "production's transaction ids stay in production"
    assert rows == sorted(rows)
    exact = conn.execute("select sum(yes_price * count) from kstore.trades").fetchone()[0]
    con = duckdb.connect()
    assert con.execute("select sum(yes_price * count) from read_parquet(?)", [uri]).fetchone()[0] \
        == exact


def test_late_rows_reopen_their_window_which_is_exported_again(lake_db):
    db, conn, settings = lake_db
    trades = raw_dataset(conn, "trades")
    add_trades(conn, D0 + HOUR, 2 * HOUR, 2000)
    with Exporter(settings) as exporter:
        exporter.export(trades, closed_until=D0 + DAY)
        add_trades(conn, D0 + 2 * HOUR + timedelta(minutes=10), timedelta(minutes=5), 7)  # late
        add_trades(conn, D0 - DAY + 5 * HOUR, HOUR, 11)  # history before the first window
        report = exporter.export(trades, closed_until=D0 + DAY)

    manifest = manifest_rows(conn, "trades")
    in_window = conn.execute("select count(*) from kstore.trades where ts >= %s and ts < %s",
                             [D0 + 2 * HOUR, D0 + 3 * HOUR]).fetchone()[0]
    assert report.marked == 1 + 24, "the late window, and the whole day of the history"
    assert [r.window.start for r in report.windows] == [
        D0 - DAY + h * HOUR for h in range(24)] + [D0 + 2 * HOUR]
    assert report.verified == 25
    assert manifest[D0 + 2 * HOUR][0] == in_window and manifest[D0 + 2 * HOUR][2]
    assert manifest[D0 - DAY + 5 * HOUR][0] == 11 and manifest[D0 - DAY + 5 * HOUR][2]
    assert lake_count(settings, "raw/trades") == production_count(conn, "trades") == 2018


def test_export_cursors_ahead_of_a_restored_server_recheck_every_window(lake_db, caplog):
    """A logical restore into a new server restarts production's transaction ids below the
    export cursors: the exporter says so once and looks at every row again (nothing to edit)."""
    db, conn, settings = lake_db
    trades = raw_dataset(conn, "trades")
    add_trades(conn, D0 + HOUR, 2 * HOUR, 500)
    with Exporter(settings) as exporter:
        exporter.export(trades, closed_until=D0 + DAY)
        conn.execute("update ops.export_cursors set next_xid = '9000000000'")
        report = exporter.export(trades, closed_until=D0 + DAY)
    assert report.marked == 2, "both windows holding rows are looked at again"
    assert report.verified == 2 and lake_count(settings, "raw/trades") == 500
    assert "ids restarted" in caplog.text and "every window of trades" in caplog.text
    cursor = conn.execute("select next_xid <= pg_current_xact_id() from ops.export_cursors"
                          " where table_name = 'trades'").fetchone()[0]
    assert cursor, "the cursor is back at the server's horizon"


def test_days_read_ahead_are_dropped_when_the_export_stops(lake_db):
    """The next UTC day is read while one is written (decision 0082): a stop in the first day
    leaves no batch behind in DuckDB, records only the windows that finished, and the next
    export does the rest."""
    db, conn, settings = lake_db
    trades = raw_dataset(conn, "trades")
    add_trades(conn, D0, 3 * DAY, 3000, markets=20)
    stop = threading.Event()

    def stop_at_hour_5(key: str) -> None:
        if key.endswith("T05.parquet"):
            stop.set()
    with Exporter(settings, after_write=stop_at_hour_5) as exporter:
        stopped = exporter.export(trades, closed_until=D0 + 3 * DAY, stop=stop)
        left = exporter.duck.execute("select count(*) from duckdb_tables()"
                                     " where table_name like 'kstore_batch%'").fetchone()[0]
        rest = exporter.export(trades, closed_until=D0 + 3 * DAY)

    assert [r.window.start for r in stopped.windows] == [D0 + h * HOUR for h in range(6)]
    assert stopped.verified == 6 and left == 0
    assert len(rest.windows) == rest.verified == 3 * 24 - 6
    assert lake_count(settings, "raw/trades") == production_count(conn, "trades") == 3000


def damage(settings, how: str):
    """An after_write hook that truncates or deletes the object of hour 01."""
    lake = open_lake(settings)

    def hook(key: str) -> None:
        if "hour=1/" not in key:
            return
        if how == "delete":
            lake.remove(key)
        else:
            path = lake.root / key
            path.write_bytes(path.read_bytes()[:-100])
    return hook


@pytest.mark.parametrize("how", ["truncate", "delete"])
def test_a_damaged_object_is_never_verified_and_is_redone(lake_db, how):
    db, conn, settings = lake_db
    trades = raw_dataset(conn, "trades")
    add_trades(conn, D0, 3 * HOUR, 900, markets=20)
    with Exporter(settings, after_write=damage(settings, how)) as exporter:
        report = exporter.export(trades, closed_until=D0 + 3 * HOUR)
    assert [r.key.split("/")[-1] for r in report.failed] == ["trades-2025-01-01T01.parquet"]
    assert "unreadable" in report.failed[0].reason
    assert [v for _, _, v, _ in manifest_rows(conn, "trades").values()] == [True, False, True]

    with Exporter(settings) as exporter:
        redone = exporter.export(trades, closed_until=D0 + 3 * HOUR)
    assert [r.window.start for r in redone.windows] == [D0 + HOUR] and redone.verified == 1


def test_verify_rejects_an_object_that_differs_from_production(lake_db):
    db, conn, settings = lake_db
    trades = raw_dataset(conn, "trades")
    add_trades(conn, D0, HOUR, 100, markets=5)
    with Exporter(settings) as exporter:
        exporter.export(trades, closed_until=D0 + HOUR)
        uri = exporter.lake.uri(TRADES_D0)
        exporter.duck.execute(f"copy (select * from read_parquet('{uri}') limit 99) to "
                              f"'{uri}.x' (format parquet)")
        (exporter.lake.root / TRADES_D0).write_bytes(
            (exporter.lake.root / (TRADES_D0 + ".x")).read_bytes())
        production = Stats(*conn.execute("select count(*), min(ts), max(ts) from kstore.trades")
                           .fetchone())
        result = exporter.verify(trades, Window(D0, D0 + HOUR, TRADES_D0), production)
    assert not result.verified and "object has 99 rows" in result.reason


def cursor(conn, gatherer: str, table: str, caught_up: bool, last_pull: datetime | None,
           watermark: datetime | None = None, stopped: datetime | None = None) -> None:
    conn.execute(
        "insert into ops.dedup_cursors (gatherer_id, table_name, caught_up, last_pull_at,"
        " watermark, source_stopped_at)"
        " values (%s, %s, %s, %s, coalesce(%s::timestamptz, '-infinity'), %s)",
        [gatherer, table, caught_up, last_pull, watermark, stopped])


def ceil(moment: datetime, step: timedelta) -> datetime:
    """The end of the UTC-aligned window of `step` holding `moment` (itself on an edge)."""
    start = D0 + (moment - D0) // step * step
    return moment if start == moment else start + step


def test_windows_close_once_every_live_gatherer_caught_up(lake_db):
    db, conn, settings = lake_db
    trades = raw_dataset(conn, "trades")
    tickers = raw_dataset(conn, "tickers")
    now = conn.execute("select now()").fetchone()[0]
    close_after = timedelta(seconds=settings.lake.close_after)
    with Exporter(settings) as exporter:
        wall = exporter.closed_until(trades)
        assert now - close_after <= wall <= datetime.now(UTC) - close_after, "no cursor: wall clock"
        cursor(conn, "g1", "trades", True, now - timedelta(minutes=1))
        cursor(conn, "g2", "trades", False, now, watermark=now - timedelta(minutes=20))
        cursor(conn, "g3", "trades", True, now - timedelta(hours=2))  # dead: blocks nothing
        cursor(conn, "g4", "trades", False, None)  # attached, never pulled: blocks nothing
        assert exporter.closed_until(trades) == now - timedelta(minutes=20) - close_after
        conn.execute("update ops.dedup_cursors set caught_up = true where gatherer_id = 'g2'")
        assert exporter.closed_until(trades) == now - timedelta(minutes=1) - close_after
        conn.execute("update ops.dedup_cursors set last_pull_at = null")
        assert exporter.closed_until(trades) is None, "no gatherer has pulled: nothing closes"
        assert exporter.closed_until(tickers) is not None, "tickers has no cursor at all"


def test_the_current_window_closes_once_every_live_gatherer_stopped_and_is_merged(lake_db):
    db, conn, settings = lake_db
    trades = raw_dataset(conn, "trades")
    now = conn.execute("select now()").fetchone()[0]
    close_after = timedelta(seconds=settings.lake.close_after)
    with Exporter(settings) as exporter:
        for table in ("trades", "orderbook_deltas", "orderbook_snapshots", "tickers"):
            cursor(conn, "g1", table, True, now, stopped=now - timedelta(minutes=5))
            cursor(conn, "g2", table, True, now - timedelta(minutes=1))  # still capturing
        assert exporter.closed_until(trades) == now - timedelta(minutes=1) - close_after, \
            "a stopped, merged gatherer holds nothing back; a capturing one does"
        conn.execute("update ops.dedup_cursors set source_stopped_at = %s"
                     " where gatherer_id = 'g2'", [now - timedelta(minutes=2)])
        before = datetime.now(UTC)
        closed = exporter.closed_until(trades)
        after = datetime.now(UTC)
        assert ceil(before - close_after, HOUR) <= closed <= ceil(after - close_after, HOUR), \
            "every gatherer stopped and merged: the window holding now is closed too"
        daily = exporter.closed_until(raw_dataset(conn, "orderbook_snapshots"))  # daily windows
        assert daily == ceil(before - close_after, DAY), "a daily table closes today"
        model = Dataset("aggregates.agg_candles_1m", "bucket", "day",
                               "aggregates/agg_candles_1m", "aggregates.agg_candles_1m")
        assert exporter.closed_until(model) == daily, "models close with all four tables"

        conn.execute("update ops.dedup_cursors set source_stopped_at = null"
                     " where gatherer_id = 'g2' and table_name = 'tickers'")
        assert exporter.closed_until(model) == now - timedelta(minutes=1) - close_after, \
            "one table still capturing: models wait for it"
        assert exporter.closed_until(trades) > datetime.now(UTC), "trades stays final"


def test_reference_tables_are_daily_snapshots(lake_db):
    """A day's snapshot is taken once the day has closed (decision 0046: not for a day that
    ended before production knew any row, so the day here is today)."""
    db, conn, settings = lake_db
    series = raw_dataset(conn, "series")
    events = raw_dataset(conn, "events")
    markets = raw_dataset(conn, "markets")
    add_reference(conn, markets=7)
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    key = conn.execute("select ops.lake_object_key('raw/markets', 'snapshot', %s)",
                       [day]).fetchone()[0]
    with Exporter(settings) as exporter:
        reports = [exporter.export(ds, closed_until=day + DAY + HOUR) for ds in (series, events,
                                                                                 markets)]
        again = exporter.export(markets, closed_until=day + DAY + 2 * HOUR)
        types = dict(exporter.duck.execute(
            "select column_name, column_type from (describe select * from read_parquet(?))",
            [exporter.lake.uri(key)]).fetchall())
    assert [(r.verified, r.rows) for r in reports] == [(1, 1), (1, 1), (1, 7)]
    assert [r.key for r in reports[2].windows] == [key]
    assert again.windows == [], "one snapshot per closed day"
    assert (types["yes_bid"], types["volume"]) == ("DECIMAL(10,6)", "DECIMAL(18,2)")


def tickers_on(conn, day: datetime) -> int:
    return conn.execute("select count(*) from kstore.tickers where ts >= %s and ts < %s",
                        [day, day + DAY]).fetchone()[0]


def test_production_retention_drops_only_verified_exported_days(lake_db):
    """tickers are kept 30 days in production: a day 40 days old goes only once its 24 windows
    are verified and hold as many rows as the partition."""
    db, conn, settings = lake_db
    tickers = raw_dataset(conn, "tickers")
    old = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - 40 * DAY
    add_tickers(conn, old, 2 * DAY, 480)
    with Exporter(settings, after_write=damage(settings, "truncate")) as exporter:
        exporter.export(tickers, closed_until=old + 2 * DAY)  # hour 01 of both days unverified
    assert [tickers_on(conn, old), tickers_on(conn, old + DAY)] == [240, 240]
    assert [r for r in maintain.run(db) if r[1] == "dropped"] == []

    with Exporter(settings) as exporter:
        report = exporter.export(tickers, closed_until=old + 2 * DAY)
        assert report.verified == 2
        add_tickers(conn, old + DAY + 5 * HOUR, HOUR, 3)  # late rows for the second day
        dropped = [r for r in maintain.run(db) if r[1] == "dropped"]
        assert len(dropped) == 1
        assert [tickers_on(conn, old), tickers_on(conn, old + DAY)] == [0, 243]

        exporter.export(tickers, closed_until=old + 2 * DAY)  # re-exports the late window
    dropped = [r for r in maintain.run(db) if r[1] == "dropped"]
    assert len(dropped) == 1 and tickers_on(conn, old + DAY) == 0
    assert lake_count(settings, "raw/tickers") == 483, "the lake keeps what production dropped"


def test_export_once_uses_the_close_rule_and_exits(lake_db, capsys):
    db, conn, settings = lake_db
    now = datetime.now(UTC)
    add_trades(conn, now - 3 * HOUR, HOUR, 500)
    add_reference(conn)
    args = argparse.Namespace(once=True, interval=30)

    assert export.main(settings, args) == 0
    first = capsys.readouterr().out
    assert export.main(settings, args) == 0
    second = capsys.readouterr().out

    assert "trades:" in first and "500 rows" in first
    assert "trades: 0 window(s)" in second
    closed = conn.execute("select max(window_end) from ops.export_manifest where"
                          " table_name = 'trades' and verified_at is not null").fetchone()[0]
    assert now - timedelta(seconds=settings.lake.close_after) - HOUR < closed <= now
    assert lake_count(settings, "raw/trades") == 500


def test_s3_lake_end_to_end(server, s3):
    bucket = f"lake-export-{server.storage}"  # one per storage path: each run starts empty
    db = server.database("production")
    settings = server.settings(dsn={"production": db.dsn_as(export.EXPORTER)},
                               lake=s3.lake_settings(f"s3://{bucket}/kstore"))
    s3.create_bucket(settings)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        trades = raw_dataset(conn, "trades")
        add_trades(conn, D0, 2 * HOUR, 1500, markets=30)
        with Exporter(settings) as exporter:
            report = exporter.export(trades, closed_until=D0 + 2 * HOUR)
        manifest = manifest_rows(conn, "trades")
    lake = open_lake(settings)
    objects = lake.client.list_objects_v2(Bucket=bucket, Prefix="kstore/raw/trades/")
    body = lake.client.get_object(Bucket=bucket, Key="kstore/" + TRADES_D0)["Body"]
    assert report.verified == 2 and all(v for _, _, v, _ in manifest.values())
    assert sorted(o["Key"] for o in objects["Contents"]) == [
        "kstore/raw/trades/dt=2025-01-01/hour=0/trades-2025-01-01T00.parquet",
        "kstore/raw/trades/dt=2025-01-01/hour=1/trades-2025-01-01T01.parquet"]
    assert hashlib.sha256(body.read()).hexdigest() == manifest[D0][1]
    assert lake_count(settings, "raw/trades") == 1500


def test_export_windows_serves_a_model_without_transaction_ids(lake_db):
    """The transform's use: a dbt-built relation (no xact_id) to aggregates/, daily windows;
    changed row counts re-open windows, and so does `reexport_from` (a rebuild)."""
    db, conn, settings = lake_db
    conn.execute("create schema aggregates; create table aggregates.agg_candles_1m ("
                 " market_ticker text, bucket timestamptz, close numeric(10, 6),"
                 " primary key (market_ticker, bucket));"
                 " grant usage on schema aggregates to kstore_exporter;"
                 " grant select on aggregates.agg_candles_1m to kstore_exporter")
    conn.execute("insert into aggregates.agg_candles_1m select 'KXM-T1', %s + i * interval"
                 " '1 minute', 0.5 from generate_series(0, 2879) as i", [D0])
    name = "aggregates.agg_candles_1m"

    def run(**options):
        return export.export_windows(settings, name, "bucket", "day", "aggregates/agg_candles_1m",
                                     name, closed_until=D0 + 2 * DAY, **options)

    first = run()
    conn.execute("insert into aggregates.agg_candles_1m values ('KXM-T2', %s, 0.25)", [D0 + DAY])
    changed = run()
    rebuilt = run(reexport_from=D0)
    assert [(r.window.start, r.found.rows) for r in first.windows] == [(D0, 1440), (D0 + DAY, 1440)]
    assert [(r.window.start, r.found.rows) for r in changed.windows] == [(D0 + DAY, 1441)]
    assert rebuilt.verified == 2 and rebuilt.windows[0].checksum == first.windows[0].checksum
    assert open_lake(settings).keys("aggregates") == [
        "aggregates/agg_candles_1m/dt=2025-01-01/agg_candles_1m-2025-01-01.parquet",
        "aggregates/agg_candles_1m/dt=2025-01-02/agg_candles_1m-2025-01-02.parquet"]
