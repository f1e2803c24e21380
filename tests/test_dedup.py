"""The deduplicator (`ops.pull`, `kstore dedup`) on real clusters: three gatherer clusters and a
production cluster, production reading every gatherer through postgres_fdw over TCP as
kstore_gatherer_reader. Gatherer rows are written with SQL as kstore_gatherer_writer, one
statement per transaction (so one xact_id per statement), the way the writer commits batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from conftest import PG_BIN, REPO_ROOT, run_kstore
from kstore import dedup, maintain
from kstore.gatherer import runs
from kstore.testing import DEDUP_ROLES, role_dsns

GATHERERS = ("g1", "g2", "g3")
WRITER = "kstore_gatherer_writer"
BASE = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
DAY = timedelta(days=1)
TODAY = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
OLD_DAY = TODAY - 40 * DAY  # past the gatherers' trades horizon (30 days)

# Event i as a gatherer stores it: trades one row, deltas two identical order-book changes in
# the same millisecond (dup_ordinal 0 and 1). Keys are functions of i only, as on the exchange.
INSERTS = {
    "trades": """
insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count,
    received_at, gatherer_id)
select md5('trade-' || i)::uuid, %(base)s + i * interval '1 ms', 'KXDEDUP-' || i %% 5, 0.5,
    0.5, 1 + i %% 7, coalesce(%(received)s::timestamptz, clock_timestamp()), %(gid)s
from unnest(%(ids)s::int []) as i
""",
    "orderbook_deltas": """
insert into kstore.orderbook_deltas (market_ticker, ts, side, price, delta, dup_ordinal,
    use_yes_price, received_at, gatherer_id)
select 'KXDEDUP-' || i %% 5, %(base)s + i * interval '1 ms', (array['yes', 'no'])[1 + i %% 2],
    (1 + i %% 97) / 100.0, 1 + i %% 13, o, false,
    coalesce(%(received)s::timestamptz, clock_timestamp()), %(gid)s
from unnest(%(ids)s::int []) as i cross join generate_series(0, 1) as o
""",
    "tickers": """
insert into kstore.tickers (market_ticker, ts, fingerprint, price, volume, received_at,
    gatherer_id)
select 'KXDEDUP-' || i %% 5, %(base)s + i * interval '1 ms', hashint4(i), (1 + i %% 97) / 100.0,
    i * 10, coalesce(%(received)s::timestamptz, clock_timestamp()), %(gid)s
from unnest(%(ids)s::int []) as i
""",
    "orderbook_snapshots": """
insert into kstore.orderbook_snapshots (market_ticker, captured_at, gatherer_id, source,
    yes_prices, yes_sizes, use_yes_price, received_at)
select 'KXDEDUP-' || i %% 5, %(base)s + i * interval '1 ms', %(gid)s, 'rest',
    array[0.01, (2 + i %% 97) / 100.0], array[1 + i %% 13, 0.5], false,
    coalesce(%(received)s::timestamptz, clock_timestamp())
from unnest(%(ids)s::int []) as i
""",
}
ROWS_PER_EVENT = {"trades": 1, "orderbook_deltas": 2, "tickers": 1}
# What must arrive unchanged: the key, and values of every kind of column.
KEYS = {
    "trades": "trade_id, ts, yes_price, count",
    "orderbook_deltas": "market_ticker, ts, side, price, delta, dup_ordinal, key_scope",
    "tickers": "market_ticker, ts, fingerprint, price, volume",
    "orderbook_snapshots": "market_ticker, captured_at, gatherer_id, source, yes_prices::text,"
                           " yes_sizes::text",
}



# ------------------------------------------------------------------------------------ helpers

def write(db, table: str, ids, received: datetime | None = None,
          conn: psycopg.Connection | None = None) -> None:
    """Events `ids` into one gatherer database in one transaction, as its writer."""
    params = {"ids": list(ids), "gid": db.cluster, "base": BASE, "received": received}
    if conn is not None:
        conn.execute(INSERTS[table], params)
        return
    with psycopg.connect(db.dsn_as(WRITER), autocommit=True) as own:
        own.execute(INSERTS[table], params)


def scalar(dsn: str, query: str, params=None):
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query, params).fetchone()[0]


def keys(dsn: str, table: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"select {KEYS[table]} from kstore.{table}").fetchall()


def assert_union(dbs, table: str, events: int | None = None) -> None:
    """Production holds exactly the union of the gatherers' rows: every key once. `events`:
    how many exchange events the gatherers together hold (snapshots are per gatherer)."""
    union = set().union(*(keys(dbs[f"{gid}_ts"].dsn, table) for gid in GATHERERS))
    merged = keys(dbs["production"].dsn, table)
    if events is not None:
        assert len(union) == events * ROWS_PER_EVENT[table], "the gatherers hold every event"
    assert len(merged) == len(set(merged)) == len(union)
    assert set(merged) == union


def production_count(dbs, table: str = "trades") -> int:
    return scalar(dbs["production"].dsn, f"select count(*) from kstore.{table}")


def dedup_settings(scratch, dbs):
    """Settings as the deduplicator process sees them: production as kstore_dedup, gatherer
    ts databases as kstore_dedup_ack (attach() ran as the owner, in fresh())."""
    return scratch.settings(dbs, DEDUP_ROLES)


def merge_once(scratch, dbs, page_size: int = 500) -> dict:
    deduplicator = dedup.Dedup(dedup_settings(scratch, dbs), page_size, interval=0.1)
    return asyncio.run(deduplicator.run(once=True))


def pull(conn, gid: str, table: str, page_size: int) -> tuple:
    return conn.execute("select * from ops.pull(%s, %s, %s)", [gid, table, page_size]).fetchone()


def pull_all(conn, gid: str, table: str, page_size: int) -> list[tuple]:
    pages = [pull(conn, gid, table, page_size)]
    while not pages[-1][3]:
        pages.append(pull(conn, gid, table, page_size))
    return pages


@contextlib.contextmanager
def dedup_connection(dbs):
    with psycopg.connect(dbs["production"].dsn_as(dedup.DEDUP), autocommit=True) as conn:
        yield conn


@contextlib.contextmanager
def running(deduplicator: dedup.Dedup):
    """The Dedup loop in a thread of its own until the block ends; its errors are raised."""
    loop, stop, failed = asyncio.new_event_loop(), asyncio.Event(), []

    def target():
        try:
            loop.run_until_complete(deduplicator.run(stop=stop))
        except BaseException as exc:  # re-raised in the test's thread
            failed.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield deduplicator
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        loop.close()
    if failed:
        raise failed[0]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def scatter(events: range, rnd: random.Random) -> dict[str, list[int]]:
    """Events split among the gatherers with random gaps: runs of events that one or two
    gatherers miss (never all three), every gatherer missing some."""
    held = {gid: [] for gid in GATHERERS}
    start = events.start
    while start < events.stop:
        run = range(start, min(events.stop, start + rnd.randint(1, 40)))
        missing = rnd.sample(GATHERERS, rnd.choice((0, 0, 0, 1, 1, 2)))
        for gid in GATHERERS:
            if gid not in missing:
                held[gid].extend(run)
        start = run.stop
    return held


def transactions(ids: list[int], rnd: random.Random) -> list[list[int]]:
    """Ids in writer-sized transactions of random size, committed slightly out of order."""
    chunks, start = [], 0
    while start < len(ids):
        size = rnd.randint(1, 250)
        chunks.append(ids[start:start + size])
        start += size
    for i in range(0, len(chunks) - 1, 2):
        if rnd.random() < 0.5:
            chunks[i], chunks[i + 1] = chunks[i + 1], chunks[i]
    return chunks


class Feeder(threading.Thread):
    """Live capture: a batch of events every few milliseconds into every gatherer (each
    missing a few, never all three), one transaction per gatherer and batch, until finished."""

    def __init__(self, dbs, seed: int, batch: int = 50, pause: float = 0.02):
        super().__init__(daemon=True)
        self.dbs, self.rnd, self.batch, self.pause = dbs, random.Random(seed), batch, pause
        self.events, self.failed = 0, []
        self.halt = threading.Event()

    def run(self) -> None:
        conns = {gid: psycopg.connect(self.dbs[f"{gid}_ts"].dsn_as(WRITER), autocommit=True)
                 for gid in GATHERERS}
        try:
            while not self.halt.is_set():
                held = scatter(range(self.events, self.events + self.batch), self.rnd)
                for gid, ids in held.items():
                    write(self.dbs[f"{gid}_ts"], "trades", ids, conn=conns[gid])
                self.events += self.batch
                time.sleep(self.pause)
        except psycopg.Error as exc:
            self.failed.append(exc)
        finally:
            for conn in conns.values():
                conn.close()

    def finish(self) -> int:
        """Stops the feed; the number of events written (each by at least one gatherer)."""
        self.halt.set()
        self.join(30)
        if self.failed:
            raise self.failed[0]
        return self.events


# -------------------------------------------------------------------------------------- tests

def test_three_gatherers_with_random_gaps_merge_into_exactly_their_union(scratch, dbs):
    rnd = random.Random(11)
    events = {"trades": range(3000), "orderbook_deltas": range(1500), "tickers": range(1000),
              "orderbook_snapshots": range(300)}
    for table, span in events.items():
        for gid, ids in scatter(span, rnd).items():
            assert len(ids) < len(span), f"{gid} misses some {table}"
            for chunk in transactions(ids, rnd):
                write(dbs[f"{gid}_ts"], table, chunk)
    snapshots = sum(scalar(dbs[f"{gid}_ts"].dsn, "select count(*) from"
                           " kstore.orderbook_snapshots") for gid in GATHERERS)

    summary = merge_once(scratch, dbs, page_size=400)

    for table in ("trades", "orderbook_deltas", "tickers"):
        assert_union(dbs, table, len(events[table]))
    assert_union(dbs, "orderbook_snapshots")  # observations of each gatherer: all of them
    merged = 3000 + 2 * 1500 + 1000 + snapshots
    assert all(s["last_error"] is None for s in summary.values())
    assert sum(s["pulled"] for s in summary.values()) == merged
    with dedup_connection(dbs) as conn:
        read, inserted, skipped = conn.execute(
            "select sum(rows_read), sum(rows_inserted), sum(rows_skipped)"
            " from ops.dedup_cursors").fetchone()
    assert inserted == merged and skipped == read - inserted > 0


def test_a_late_commit_is_merged_by_the_next_pull(scratch, dbs):
    g1 = dbs["g1_ts"]
    early, late = BASE, BASE + timedelta(seconds=30)
    write(g1, "trades", range(300, 301), received=early)  # the chunk exists (TimescaleDB)
    with psycopg.connect(g1.dsn_as(WRITER)) as first, psycopg.connect(g1.dsn_as(WRITER)) as held:
        write(g1, "trades", range(100, 200), received=late, conn=first)  # begins first
        write(g1, "trades", range(0, 100), received=early, conn=held)  # earlier rows, open
        held_xid = int(held.execute("select pg_current_xact_id()::text").fetchone()[0])
        first.commit()
        write(g1, "trades", range(200, 300))  # a later transaction, committed
        with dedup_connection(dbs) as conn:
            pages = pull_all(conn, "g1", "trades", 1000)
            cursor, watermark = conn.execute(
                "select next_xid::text::bigint, watermark from ops.dedup_cursors"
                " where gatherer_id = 'g1' and table_name = 'trades'").fetchone()
        assert sum(p[1] for p in pages) == 101, "only committed transactions below the horizon"
        assert cursor <= held_xid, "the cursor stops at the open transaction"
        assert watermark == late > early, "a received_at cursor would now skip the open rows"
        held.commit()

    with dedup_connection(dbs) as conn:
        pages = pull_all(conn, "g1", "trades", 1000)
    assert sum(p[1] for p in pages) == 200
    assert production_count(dbs) == 301
    assert set(keys(g1.dsn, "trades")) == set(keys(dbs["production"].dsn, "trades"))


def test_a_transaction_larger_than_a_page_and_equal_receive_times_lose_nothing(scratch, dbs):
    g1, same = dbs["g1_ts"], BASE
    write(g1, "trades", range(2500), received=same)  # one transaction, 2.5 pages
    for first in range(2500, 4000, 300):
        write(g1, "trades", range(first, first + 300), received=same)  # boundaries fall inside

    with dedup_connection(dbs) as conn:
        pages = pull_all(conn, "g1", "trades", 1000)

    assert pages[0][:2] == (2500, 2500), "a page holds whole transactions, never half of one"
    assert [p[0] for p in pages[1:]] == [1200, 300], "4 transactions hold the 1000th row"
    assert production_count(dbs) == 4000
    assert set(keys(g1.dsn, "trades")) == set(keys(dbs["production"].dsn, "trades"))


def test_running_a_pull_twice_is_a_no_op(scratch, dbs):
    g1 = dbs["g1_ts"]
    for first in range(0, 1000, 250):
        write(g1, "trades", range(first, first + 250))
    with dedup_connection(dbs) as conn:
        pull_all(conn, "g1", "trades", 300)
        merged_at = scalar(dbs["production"].dsn, "select max(merged_at) from kstore.trades")
        with psycopg.connect(g1.dsn_as(WRITER)) as open_writer:
            write(g1, "trades", range(5000, 5001), conn=open_writer)
            open_xid = int(open_writer.execute("select pg_current_xact_id()::text").fetchone()[0])
            again = pull(conn, "g1", "trades", 300)
            open_writer.rollback()
        horizon = int(scalar(g1.dsn, "select horizon::text from ops.xact_horizon"))

        assert again[:2] == (0, 0) and again[3] is True
        assert int(again[2]) <= open_xid <= horizon, "the cursor never passes the horizon"
        conn.execute("update ops.dedup_cursors set next_xid = '0' where gatherer_id = 'g1'"
                     " and table_name = 'trades'")
        replay = pull_all(conn, "g1", "trades", 5000)

    assert replay[0][:2] == (1000, 0), "a repeated page reads everything and changes nothing"
    assert production_count(dbs) == 1000
    assert scalar(dbs["production"].dsn, "select max(merged_at) from kstore.trades") == merged_at


def source_stopped_at(conn, gid: str, table: str = "trades") -> datetime | None:
    return conn.execute("select source_stopped_at from ops.dedup_cursors where gatherer_id = %s"
                        " and table_name = %s", [gid, table]).fetchone()[0]


def test_a_stopped_capture_run_is_recorded_only_once_all_its_rows_are_merged(scratch, dbs):
    g1 = dbs["g1_ts"]
    run_id = asyncio.run(runs.begin(g1.dsn_as(WRITER)))
    write(g1, "trades", range(100))
    with dedup_connection(dbs) as conn:
        pull_all(conn, "g1", "trades", 1000)
        assert source_stopped_at(conn, "g1") is None, "a capturing gatherer is not stopped"
        with psycopg.connect(g1.dsn_as(WRITER)) as open_writer:
            write(g1, "trades", range(100, 110), conn=open_writer)  # begun before the stop
            asyncio.run(runs.stop(g1.dsn_as(WRITER), run_id))
            pull_all(conn, "g1", "trades", 1000)
            assert source_stopped_at(conn, "g1") is None, "rows below the stop are not merged"
            open_writer.commit()
        pull_all(conn, "g1", "trades", 1000)
        stopped = scalar(g1.dsn, "select stopped_at from ops.capture_runs")
        assert source_stopped_at(conn, "g1") == stopped
        assert production_count(dbs) == 110, "recorded as stopped with every row merged"
        assert source_stopped_at(conn, "g1", "tickers") is None, "recorded by that table's pull"

        asyncio.run(runs.begin(g1.dsn_as(WRITER)))
        pull_all(conn, "g1", "trades", 1000)
        assert source_stopped_at(conn, "g1") is None, "capturing again clears the stop"


def test_a_stopped_gatherer_is_skipped_with_backoff_and_caught_up_after_restart(scratch, dbs):
    for gid in GATHERERS:
        write(dbs[f"{gid}_ts"], "trades", range(600))
    write(dbs["g2_ts"], "trades", range(600, 800))  # only g2 caught these
    g2 = scratch.servers["g2"].cluster
    g2.stop()
    try:
        deduplicator = dedup.Dedup(dedup_settings(scratch, dbs), 500, interval=0.2)
        with running(deduplicator) as loop:
            started = time.monotonic()
            write(dbs["g1_ts"], "trades", range(800, 1400))
            write(dbs["g3_ts"], "trades", range(800, 1400))
            wait_until(lambda: production_count(dbs) == 1200, 15, "g1 and g3 merged without g2")
            time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))
            g2_state, elapsed = loop.states["g2"], time.monotonic() - started
            assert g2_state.last_error and g2_state.failures >= 2, "retried"
            assert g2_state.failures <= math.log2(elapsed + 1) + 2, "with doubling pauses"
            assert loop.states["g1"].failures == loop.states["g3"].failures == 0
            g2.start()
            wait_until(lambda: production_count(dbs) == 1400, 20, "g2 caught up after restart")
            wait_until(lambda: loop.states["g2"].failures == 0, 5, "g2 healthy again")
    finally:
        g2.start()
    assert_union(dbs, "trades", 1400)


ACTIVE_PULLS = ("select count(*) from pg_stat_activity where usename = 'kstore_dedup'"
                " and state = 'active' and query like '%ops.pull%'")


def dedup_env(scratch, dbs, home) -> dict:
    """`kstore dedup` as deployed: every setting from KSTORE_* (DSNs per role)."""
    dsns = role_dsns(dbs, DEDUP_ROLES)
    return {"KSTORE_GATHERERS": json.dumps(list(GATHERERS)), "KSTORE_HOME": str(home),
            "KSTORE_TIMESCALEDB": "on" if scratch.storage == "timescaledb" else "off",
            **{f"KSTORE_DSN__{name.upper()}": dsn for name, dsn in dsns.items()}}


def test_kill_9_of_the_deduplicator_mid_page_then_restart_is_exact(scratch, dbs, tmp_path):
    events = 60_000  # two pages (of the CLI's 50 000 rows) per gatherer
    for k, gid in enumerate(GATHERERS):  # each misses a different 5%
        held = [i for i in range(events) if i % 20 != k]
        for first in range(0, len(held), 2000):
            write(dbs[f"{gid}_ts"], "trades", held[first:first + 2000])
    env = os.environ | dedup_env(scratch, dbs, tmp_path)
    with open(tmp_path / "dedup.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "kstore.cli", "dedup"], env=env,
                                   cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    admin = dbs["production"].dsn
    try:
        wait_until(lambda: 0 < production_count(dbs) and scalar(admin, ACTIVE_PULLS), 60,
                   "a page committed and another in flight")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    at_kill = production_count(dbs)
    wait_until(lambda: not scalar(admin, ACTIVE_PULLS), 30, "orphaned pulls ended")

    result = run_kstore("dedup", "--once", env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    assert 0 < at_kill < events, "killed mid-run"
    assert_union(dbs, "trades", events)
    assert scalar(admin, "select sum(rows_inserted) from ops.dedup_cursors") == events, \
        "cursors moved with their rows, never without"


def acks(dbs) -> dict[str, str]:
    return {gid: scalar(dbs[f"{gid}_ts"].dsn, "select acked_xid::text from ops.dedup_ack"
                        " where table_name = 'trades'") for gid in GATHERERS}


def cursors(dbs) -> dict[str, str]:
    with psycopg.connect(dbs["production"].dsn) as conn:
        return dict(conn.execute("select gatherer_id, next_xid::text from ops.dedup_cursors"
                                 " where table_name = 'trades'").fetchall())


def test_production_restarted_mid_run_is_exact(scratch, dbs):
    production = scratch.servers["production"].cluster
    deduplicator = dedup.Dedup(dedup_settings(scratch, dbs), 500, interval=0.2)
    feeder = Feeder(dbs, seed=5)
    try:
        with running(deduplicator) as loop:
            feeder.start()
            wait_until(lambda: production_count(dbs) > 500, 15, "merging under way")
            production.kill()  # crash: immediate shutdown, recovery on start
            time.sleep(0.3)  # an acknowledgement read from production just before may land
            before = acks(dbs)
            time.sleep(1.5)
            assert acks(dbs) == before, "nothing moves while production is down"
            assert any(s.failures for s in loop.states.values())
            production.start()
            time.sleep(1.0)
            events = feeder.finish()
            wait_until(lambda: production_count(dbs) == events, 30, "caught up after restart")
            wait_until(lambda: acks(dbs) == cursors(dbs), 10, "acknowledged up to the cursors")
    finally:
        feeder.finish()
        production.start()
    assert_union(dbs, "trades", events)


MARKET = """
insert into kstore.markets (market_ticker, event_ticker, status, updated_time, observed_at, raw)
values (%(ticker)s, 'KXEVENT', %(status)s, %(updated)s, clock_timestamp(),
    jsonb_build_object('ticker', %(ticker)s::text, 'status', %(status)s::text,
        'updated_time', %(updated)s::timestamptz))
on conflict (market_ticker) do update set status = excluded.status,
    updated_time = excluded.updated_time, observed_at = excluded.observed_at, raw = excluded.raw
"""


def deliver(db, ticker: str, status: str, updated: datetime) -> None:
    with psycopg.connect(db.dsn_as(WRITER), autocommit=True) as conn:
        conn.execute(MARKET, {"ticker": ticker, "status": status, "updated": updated})


def markets(conn) -> dict[str, tuple]:
    rows = conn.execute("select market_ticker, status, updated_time from kstore.markets")
    return {ticker: (status, updated) for ticker, status, updated in rows}


def test_an_older_market_version_never_overwrites_a_newer_one(scratch, dbs):
    old, new, newest = BASE, BASE + timedelta(minutes=5), BASE + timedelta(minutes=9)
    deliver(dbs["g1_rel"], "KX-A", "closed", new)  # g1 has the newer A, merged first
    deliver(dbs["g2_rel"], "KX-A", "active", old)
    deliver(dbs["g1_rel"], "KX-B", "active", old)  # g1 has the older B, merged first
    deliver(dbs["g2_rel"], "KX-B", "closed", new)

    with dedup_connection(dbs) as conn:
        for gid in ("g1", "g2", "g3"):
            pull_all(conn, gid, "markets", 100)
        current = markets(conn)
        assert current == {"KX-A": ("closed", new), "KX-B": ("closed", new)}

        deliver(dbs["g2_rel"], "KX-A", "settled", newest)  # a newer version, later
        deliver(dbs["g3_rel"], "KX-B", "active", old)  # an old version, late, from g3
        for gid in ("g1", "g2", "g3"):
            pull_all(conn, gid, "markets", 100)
        current = markets(conn)
        history = conn.execute("select market_ticker, updated_time from kstore.markets_history"
                               " order by 1, 2").fetchall()

    assert current == {"KX-A": ("settled", newest), "KX-B": ("closed", new)}
    assert history == [("KX-A", old), ("KX-A", new), ("KX-A", newest), ("KX-B", old),
                       ("KX-B", new)], "every version once, the losing ones too"


def test_the_fdw_role_cannot_write_to_a_gatherer(scratch, dbs):
    write(dbs["g1_ts"], "trades", range(10))
    attempts = [
        "insert into gatherer_g1.trades (trade_id, ts, market_ticker, yes_price, no_price,"
        " count, gatherer_id) values (gen_random_uuid(), now(), 'X', 0.5, 0.5, 1, 'g1')",
        "update gatherer_g1.trades set count = 2",
        "delete from gatherer_g1.trades",
    ]
    owner = dbs["production"].dsn
    with psycopg.connect(owner, autocommit=True) as conn:
        mapped = conn.execute(
            "select distinct option_value from pg_user_mappings as m,"
            " pg_options_to_table(m.umoptions) where m.srvname like 'kstore_g%'"
            " and option_name = 'user'").fetchall()
        assert mapped == [("kstore_gatherer_reader",)]
        for statement in attempts:  # the owner's mapping: refused by the gatherer itself
            with pytest.raises(psycopg.Error) as refused:
                conn.execute(statement)
            assert refused.value.sqlstate in ("25006", "42501"), refused.value
        conn.execute("grant insert, update, delete on gatherer_g1.trades to kstore_dedup")
    with dedup_connection(dbs) as conn:
        for statement in attempts:  # even granted locally, the mapped role cannot write
            with pytest.raises(psycopg.Error) as refused:
                conn.execute(statement)
            assert refused.value.sqlstate in ("25006", "42501"), refused.value
    assert scalar(dbs["g1_ts"].dsn, "select count(*) from kstore.trades") == 10
    assert scalar(dbs["g1_ts"].dsn, "select max(count) from kstore.trades") == 7


def dropped_trades(db) -> list[tuple]:
    return [row for row in maintain.run(db) if row[0] == "kstore.trades" and row[1] == "dropped"]


def old_trades(db) -> tuple[int, int]:
    with psycopg.connect(db.dsn) as conn:
        return tuple(conn.execute(
            "select count(*) filter (where ts < %s), count(*) filter (where ts >= %s)"
            " from kstore.trades where ts < %s",
            [OLD_DAY + DAY, OLD_DAY + DAY, OLD_DAY + 2 * DAY]).fetchone())


def test_the_ack_lets_guarded_retention_drop_only_merged_partitions(scratch, dbs):
    g1 = dbs["g1_ts"]
    with psycopg.connect(g1.dsn_as(WRITER), autocommit=True) as conn:
        for day in (OLD_DAY, OLD_DAY + DAY):
            conn.execute(
                "insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price,"
                " count, gatherer_id) select gen_random_uuid(), %s + i * interval '1 minute',"
                " 'KXOLD', 0.5, 0.5, 1, 'g1' from generate_series(1, 50) as i", [day])

    merge_once(scratch, dbs)

    ack = scalar(g1.dsn, "select acked_xid::text from ops.dedup_ack where table_name = 'trades'")
    assert ack == cursors(dbs)["g1"], "the gatherer knows how far production has its rows"
    with psycopg.connect(g1.dsn_as(WRITER), autocommit=True) as conn:  # late, not merged yet
        conn.execute(
            "insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price,"
            " count, gatherer_id) values (gen_random_uuid(), %s, 'KXLATE', 0.5, 0.5, 1, 'g1')",
            [OLD_DAY + DAY + timedelta(hours=12)])
    dropped = dropped_trades(g1)
    assert len(dropped) == 1 and old_trades(g1) == (0, 51), "only the fully merged day"

    merge_once(scratch, dbs)

    assert len(dropped_trades(g1)) == 1 and old_trades(g1) == (0, 0)
    assert production_count(dbs) == 101, "every dropped row is in production"


def test_a_gatherer_whose_transaction_ids_went_back_is_refused_not_skipped(scratch, dbs):
    write(dbs["g1_ts"], "trades", range(100))
    ahead = "4294967296000"  # as if g1 were restored into a new cluster: its ids restart lower
    with dedup_connection(dbs) as conn:
        conn.execute("update ops.dedup_cursors set next_xid = %s where gatherer_id = 'g1'"
                     " and table_name = 'trades'", [ahead])
        with pytest.raises(psycopg.errors.RaiseException, match="cursor is at"):
            pull(conn, "g1", "trades", 1000)
        assert cursors(dbs)["g1"] == ahead, "the cursor does not jump back over the rows"
        conn.execute("update ops.dedup_cursors set next_xid = '0' where gatherer_id = 'g1'"
                     " and table_name = 'trades'")  # what the hint tells the operator
        pull_all(conn, "g1", "trades", 1000)
    assert production_count(dbs) == 100


def test_status_reports_lag_per_gatherer_and_table(scratch, dbs):
    admin = scratch.settings(dbs)
    before = dedup.status(admin)  # attached, nothing pulled yet: lag unknown, not a crash
    assert len(before) == len(GATHERERS) * 7 and all(r["lag_s"] is None for r in before)
    write(dbs["g1_ts"], "trades", range(10))
    write(dbs["g2_ts"], "trades", range(5, 15))

    merge_once(scratch, dbs)

    rows = {(r["gatherer"], r["table"]): r for r in dedup.status(admin)}
    assert all(r["lag_s"] == 0 and r["last_error"] is None for r in rows.values())
    trades = [rows[gid, "trades"] for gid in ("g1", "g2")]
    assert sum(r["rows_merged"] for r in trades) == 15
    assert max(r["duplicate_rate"] for r in trades) > 0, "the overlap counts as duplicates"


def test_fdw_tls_settings_reach_every_gatherer_server_and_pulls_go_on(scratch, dbs):
    """`fdw.sslmode` / `fdw.sslrootcert` (docs/deploy.md) are set on both foreign servers of
    every gatherer by attach(); with `prefer` (the scratch clusters have no TLS) pulls go on."""
    settings = scratch.settings(dbs, fdw={"sslmode": "prefer", "sslrootcert": "/nonexistent.pem"})
    dedup.attach(settings, dbs["production"])
    with psycopg.connect(dbs["production"].dsn) as conn:
        options = dict(conn.execute(
            "select s.srvname::text, array_to_string(array(select o from unnest(s.srvoptions)"
            " as o where o ~ '^ssl' order by o), ' ') from pg_foreign_server as s"
            " where s.srvname ~ '^kstore_g[0-9]_'").fetchall())
    assert options == {f"kstore_{gid}_{kind}": "sslmode=prefer sslrootcert=/nonexistent.pem"
                       for gid in GATHERERS for kind in ("ts", "rel")}
    write(dbs["g1_ts"], "trades", range(10))
    merge_once(scratch, dbs)
    assert production_count(dbs) == 10
