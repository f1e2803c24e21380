"""Guarded retention, compression and partition upkeep (`ops.maintain`, `kstore maintain`)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from kstore import maintain

DAY = timedelta(days=1)
TODAY = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
OLD_DAY = TODAY - 40 * DAY  # past every gatherer horizon (trades 30 d) and production tickers (30 d)


def add_trades(conn, day: datetime, n: int, received: datetime) -> None:
    conn.execute(
        "insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count,"
        " received_at, gatherer_id)"
        " select gen_random_uuid(), %s + i * interval '1 minute', 'M', 0.5, 0.5, 1, %s, 'g1'"
        " from generate_series(1, %s) as i",
        [day, received, n],
    )


def add_tickers(conn, day: datetime, n: int) -> None:
    conn.execute(
        "insert into kstore.tickers (market_ticker, ts, fingerprint, price, gatherer_id)"
        " select 'M', %s + i * interval '1 minute', i, 0.5, 'g1' from generate_series(1, %s) i",
        [day, n],
    )


def trades_between(conn, start: datetime, end: datetime) -> int:
    return conn.execute(
        "select count(*) from kstore.trades where ts >= %s and ts < %s", [start, end]
    ).fetchone()[0]


def ack(conn, table: str, through: datetime) -> None:
    """Acknowledge as the deduplicator would: the horizon just above the newest transaction
    holding a row received at or before `through`."""
    conn.execute(
        "insert into ops.dedup_ack (table_name, acked_xid, acked_through)"
        " select %s, coalesce((max(xact_id)::text::numeric + 1)::text::xid8, '1'::xid8), %s from kstore.trades"
        " where received_at <= %s"
        " on conflict (table_name) do update set acked_xid = excluded.acked_xid,"
        " acked_through = excluded.acked_through",
        [table, through, through],
    )


def actions(db, action: str) -> list[tuple]:
    return [row for row in maintain.run(db) if row[1] == action]


def test_gatherer_retention_never_drops_unmerged_rows(server):
    db = server.database("gatherer_ts")
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        merged, late = OLD_DAY + DAY, OLD_DAY + 2 * DAY
        add_trades(conn, OLD_DAY, 50, received=merged)
        add_trades(conn, OLD_DAY + DAY, 50, received=merged)
        add_trades(conn, OLD_DAY + 2 * DAY, 50, received=late)  # merged later than the ack
        add_trades(conn, TODAY, 50, received=TODAY)

        assert actions(db, "dropped") == [], "no acknowledgement: nothing is safe"
        ack(conn, "trades", merged)
        dropped = actions(db, "dropped")

        assert len(dropped) == 2
        assert trades_between(conn, OLD_DAY, OLD_DAY + 2 * DAY) == 0
        assert trades_between(conn, OLD_DAY + 2 * DAY, OLD_DAY + 3 * DAY) == 50, "above the ack"
        assert trades_between(conn, TODAY, TODAY + DAY) == 50, "inside the horizon"
        ack(conn, "trades", TODAY + DAY)
        assert len(actions(db, "dropped")) == 1
        assert trades_between(conn, TODAY, TODAY + DAY) == 50, "inside the horizon, even acked"


def verify_window(conn, start: datetime, end: datetime, rows: int, verified: bool = True):
    conn.execute(
        "insert into ops.export_manifest (table_name, window_start, window_end, row_count,"
        " object_key, verified_at) values ('tickers', %s, %s, %s, %s, %s)",
        [start, end, rows, f"raw/tickers/{start:%Y%m%d%H}.parquet", end if verified else None],
    )


def tickers_on(conn, day: datetime) -> int:
    return conn.execute(
        "select count(*) from kstore.tickers where ts >= %s and ts < %s", [day, day + DAY]
    ).fetchone()[0]


def test_production_retention_drops_only_verified_windows(server):
    db = server.database("production")
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        unverified, verified, late = OLD_DAY, OLD_DAY + DAY, OLD_DAY + 2 * DAY
        for day in (unverified, verified, late):
            add_tickers(conn, day, 30)
        verify_window(conn, unverified, unverified + DAY, 30, verified=False)
        for hour in range(24):
            start = verified + timedelta(hours=hour)
            verify_window(conn, start, start + timedelta(hours=1), 30 if hour == 0 else 0)
        verify_window(conn, late, late + DAY, 30)
        add_tickers(conn, late + timedelta(seconds=5), 1)  # arrived after the export

        dropped = actions(db, "dropped")

        assert len(dropped) == 1
        assert (tickers_on(conn, unverified), tickers_on(conn, verified)) == (30, 0)
        assert tickers_on(conn, late) == 31


def test_production_keeps_trades_forever(server):
    db = server.database("production")
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        add_trades(conn, TODAY - 400 * DAY, 10, received=TODAY)
        assert actions(db, "dropped") == []
        assert trades_between(conn, TODAY - 400 * DAY, TODAY - 399 * DAY) == 10


def test_plain_path_premakes_a_week_of_partitions(plain_server):
    db = plain_server.database("gatherer_ts")
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        maintain.run(db)
        ahead = conn.execute(
            "select count(*) from ops.partitions() where table_name = 'kstore.trades'::regclass"
            " and range_start >= %s", [TODAY],
        ).fetchone()[0]
    assert ahead >= 8


def test_timescaledb_compresses_chunks_past_the_delay(timescaledb_server):
    db = timescaledb_server.database("production")
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        add_trades(conn, TODAY - 10 * DAY, 20, received=TODAY)
        add_trades(conn, TODAY, 20, received=TODAY)

        compressed = actions(db, "compressed")

        assert len(compressed) == 1
        assert actions(db, "compressed") == [], "a second pass has nothing left to do"
        assert trades_between(conn, TODAY - 10 * DAY, TODAY - 9 * DAY) == 20
        add_trades(conn, TODAY - 10 * DAY, 5, received=TODAY)  # late rows into a compressed chunk
        assert trades_between(conn, TODAY - 10 * DAY, TODAY - 9 * DAY) == 25


def test_maintainer_role_can_only_run_maintenance(server):
    db = server.database("production")
    with psycopg.connect(db.dsn_as(maintain.MAINTAINER), autocommit=True) as conn:
        conn.execute("select * from ops.maintain()")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from kstore.trades")


def test_maintenance_refuses_a_future_clock(plain_server):
    """as_of may replay the past, never run ahead: that would drop days before their horizon."""
    db = plain_server.database("gatherer_ts")
    with pytest.raises(psycopg.errors.RaiseException, match="in the future"):
        maintain.run(db, datetime.now(timezone.utc) + 30 * DAY)
