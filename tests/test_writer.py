"""The gatherer's batch writers on real clusters: every row put is committed once, bad rows are
quarantined without holding back their neighbours, put() never waits on the database."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from kstore.gatherer.writer import UnwrittenRows, Writers, routing
from kstore.pgcluster import free_port
from kstore.testing import ScratchServer
from conftest import PG_BIN

START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=30)
MS = timedelta(milliseconds=1)
WRITER = "kstore_gatherer_writer"


def delta(n: int, market: str = "KXHIGHNY-25JUN10-B80.5", size: str = "12.50") -> tuple:
    ts = START + n * MS
    return (market, ts, "yes" if n % 2 else "no", Decimal("0.4200"), Decimal(size), 0, "", False,
            1, n, "conn-1", ts, ts + 3 * MS, "g1")


def trade(n: int, price: str = "0.360000", count: str = "136.00") -> tuple:
    ts = START + n * MS
    return (uuid.uuid5(uuid.NAMESPACE_OID, str(n)), ts, "M-1", Decimal(price),
            1 - Decimal(price), Decimal(count), "no", "ask", False, ts, ts + 2 * MS, "g1")


def ticker(n: int) -> tuple:
    ts = START + n * MS
    return ("M-1", ts, n, Decimal("0.48"), Decimal("0.47"), Decimal("0.49"), Decimal("10.00"),
            Decimal("5.00"), Decimal("1.00"), Decimal("1000.00"), Decimal("300.00"), 480, 144, ts,
            ts + MS, "g1")


def snapshot(n: int, prices=("0.010000", "0.420000"), sizes=("1.00", "99999999.99")) -> tuple:
    ts = START + n * MS
    return ("M-1", ts, "g1", "ws", [Decimal(p) for p in prices], [Decimal(s) for s in sizes],
            [Decimal("0.5")], [Decimal("3.25")], False, 1, n, "conn-1", ts + MS)


@pytest.fixture
def ts_dsn(server):
    """A migrated gatherer_ts database; the DSN of its writer role (no superuser at run time)."""
    db = server.database("gatherer_ts")
    return server.cluster.dsn(db.dbname, user=WRITER)


def run(coroutine):
    return asyncio.run(coroutine)


def rows_of(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


def count(dsn: str, table: str) -> int:
    return rows_of(dsn, f"select count(*) from kstore.{table}")[0][0]


async def put_all(dsn: str, table: str, rows: list[tuple], **options) -> dict:
    writers = Writers(dsn, **options)
    await writers.start()
    for row in rows:
        writers.put(table, row)
    await writers.close()
    return writers.stats()


# The writer pools and their tables, as the table catalog routes them (ops.catalog.writer).
ROUTING = {"orderbook": ("orderbook_deltas", "orderbook_snapshots"),
           "trades": ("trades", "quarantine"), "tickers": ("tickers",)}


def test_the_pools_are_routed_by_the_table_catalog(ts_dsn):
    assert routing(ts_dsn) == ROUTING
    assert Writers(ts_dsn).pools == ROUTING


def test_every_row_put_is_committed_after_close(ts_dsn):
    async def scenario():
        writers = Writers(ts_dsn, gatherer_id="g1")
        await writers.start()
        for n in range(1050):
            writers.put("orderbook_deltas", delta(n))
        for n in range(230):
            writers.put("trades", trade(n))
            writers.put("tickers", ticker(n))
            writers.put("orderbook_snapshots", snapshot(n))
        writers.put("quarantine", ("g1", "conn-1", START, "unparseable frame", b"{not json"))
        await writers.close()
        return writers.stats()

    stats = run(scenario())
    expected = {"orderbook_deltas": 1050, "trades": 230, "tickers": 230,
                "orderbook_snapshots": 230, "quarantine": 1}
    assert {table: count(ts_dsn, table) for table in expected} == expected
    for table, rows in expected.items():
        entry = stats["tables"][table]
        assert (entry["committed"], entry["inserted"], entry["queued"], entry["in_flight"]) \
            == (rows, rows, 0, 0)
    assert stats["committed"] == sum(expected.values())
    assert stats["latency_p50_ms"] is not None and stats["latency_p99_ms"] >= stats[
        "latency_p50_ms"]


def test_a_key_put_twice_is_one_row(ts_dsn):
    rows = [delta(n) for n in range(300)]
    stats = run(put_all(ts_dsn, "orderbook_deltas", rows + rows[:150] + rows[:1]))
    assert count(ts_dsn, "orderbook_deltas") == 300
    entry = stats["tables"]["orderbook_deltas"]
    assert (entry["committed"], entry["inserted"], entry["quarantined"]) == (451, 300, 0)


def test_two_writers_with_the_same_rows_give_one_row_each(ts_dsn):
    rows = [trade(n) for n in range(2000)]

    async def scenario():
        return await asyncio.gather(put_all(ts_dsn, "trades", rows),
                                    put_all(ts_dsn, "trades", list(reversed(rows))))

    first, second = run(scenario())
    assert count(ts_dsn, "trades") == 2000
    assert first["tables"]["trades"]["inserted"] + second["tables"]["trades"]["inserted"] == 2000


def test_a_check_violation_quarantines_the_bad_row_and_writes_its_99_neighbours(ts_dsn):
    rows = [delta(n) for n in range(100)]
    rows[37] = delta(37, size="0.00")  # check (delta <> 0)
    stats = run(put_all(ts_dsn, "orderbook_deltas", rows))
    stored = {row[0] for row in rows_of(ts_dsn, "select seq from kstore.orderbook_deltas")}
    assert stored == set(range(100)) - {37}
    [(gatherer, connection, received, reason, raw)] = rows_of(
        ts_dsn, "select gatherer_id, connection_id, received_at, reason, raw"
                " from kstore.quarantine")
    assert (gatherer, connection, received) == ("g1", "conn-1", rows[37][12])
    assert reason.startswith("orderbook_deltas: 23514 ")
    assert "orderbook_deltas_delta_check" in reason
    rendered = json.loads(bytes(raw))
    assert rendered["table"] == "orderbook_deltas"
    assert rendered["row"]["delta"] == "0.00" and rendered["row"]["seq"] == 37
    entry = stats["tables"]["orderbook_deltas"]
    assert (entry["committed"], entry["inserted"], entry["quarantined"]) == (100, 99, 1)


BAD_ROWS = {  # table: (good row n, the bad row 37, its time column, SQLSTATE of the rejection)
    "trades": (trade, lambda n: trade(n, price="1.5"), "ts", "23514"),
    "orderbook_snapshots": (snapshot, lambda n: snapshot(n, sizes=("1.00",)), "captured_at",
                            "23514"),
    "tickers": (ticker, lambda n: ticker(n)[:-1] + (None,), "ts", "23502"),
}


@pytest.mark.parametrize("table", sorted(BAD_ROWS))
def test_every_table_keeps_the_neighbours_of_a_rejected_row(ts_dsn, table):
    good, bad, time_column, sqlstate = BAD_ROWS[table]
    rows = [bad(n) if n == 37 else good(n) for n in range(100)]
    run(put_all(ts_dsn, table, rows, gatherer_id="g9"))
    stored = rows_of(ts_dsn, f"select {time_column} from kstore.{table}")
    assert sorted((ts - START) // MS for (ts,) in stored) == [n for n in range(100) if n != 37]
    [(gatherer, reason)] = rows_of(ts_dsn, "select gatherer_id, reason from kstore.quarantine")
    assert reason.startswith(f"{table}: {sqlstate} ")
    assert gatherer == ("g9" if table == "tickers" else "g1")  # the row's own, else the writer's


def test_values_psycopg_cannot_encode_are_quarantined_too(ts_dsn):
    rows = [trade(n) for n in range(10)]
    rows[3] = rows[3][:3] + (0.36,) + rows[3][4:]  # a float price: never stored
    rows[6] = rows[6][:5] + (Decimal("100000000000000000.00"),) + rows[6][6:]  # overflows (18, 2)
    run(put_all(ts_dsn, "trades", rows + [("too", "short")]))
    assert count(ts_dsn, "trades") == 8
    reasons = sorted(r for (r,) in rows_of(ts_dsn, "select reason from kstore.quarantine"))
    assert reasons[0].startswith("trades: 22003 ")  # numeric field overflow
    assert reasons[1].startswith("trades: TypeError") and "float" in reasons[1]
    assert reasons[2] == "trades: row does not have the 12 columns of trades"


def test_the_timer_flushes_a_partial_batch_without_close(ts_dsn):
    async def scenario():
        writers = Writers(ts_dsn, max_delay=0.05)
        await writers.start(wait=10)
        put_at = time.monotonic()
        for n in range(7):
            writers.put("orderbook_deltas", delta(n))
        while writers.stats()["committed"] < 7:
            assert time.monotonic() - put_at < 5, "the partial batch was never flushed"
            await asyncio.sleep(0.005)
        waited = time.monotonic() - put_at
        visible = count(ts_dsn, "orderbook_deltas")
        stats = writers.stats()
        await writers.close()
        return waited, visible, stats

    waited, visible, stats = run(scenario())
    assert visible == 7 and stats["tables"]["orderbook_deltas"]["batches"] == 1
    assert 0.05 <= waited < 1.0
    assert 50 <= stats["latency_p50_ms"] < 1000


def test_money_survives_exactly(ts_dsn):
    prices = ["0.4200", "0.000001", "0.999999", "1", "0.5"]
    sizes = ["12.50", "0.01", "9999999999999999.99", "-54.00", "-0.01"]
    deltas = [delta(n, size=size)[:3] + (Decimal(price),) + delta(n, size=size)[4:]
              for n, (price, size) in enumerate(zip(prices, sizes))]

    async def scenario():
        writers = Writers(ts_dsn)
        await writers.start()
        for row in deltas:
            writers.put("orderbook_deltas", row)
        writers.put("orderbook_snapshots", snapshot(0, prices=("0.000001", "0.999999"),
                                                    sizes=("0.01", "9999999999999999.99")))
        await writers.close()

    run(scenario())
    stored = rows_of(ts_dsn, "select price, delta from kstore.orderbook_deltas order by seq")
    assert stored == [(Decimal(p), Decimal(s)) for p, s in zip(prices, sizes)]
    assert all(isinstance(value, Decimal) for row in stored for value in row)
    assert rows_of(ts_dsn, "select yes_prices, yes_sizes, no_prices, no_sizes "
                           "from kstore.orderbook_snapshots") == [(
                               [Decimal("0.000001"), Decimal("0.999999")],
                               [Decimal("0.01"), Decimal("9999999999999999.99")],
                               [Decimal("0.5")], [Decimal("3.25")])]


def test_put_never_waits_on_the_database(ts_dsn, server, caplog):
    """The table is locked, so no write can finish: 50k puts still return at once, the backlog
    above max_queue is logged and kept, and every row is committed once the lock goes."""
    rows = [delta(n) for n in range(50_000)]
    owner = server.cluster.dsn(psycopg.conninfo.conninfo_to_dict(ts_dsn)["dbname"])

    async def scenario():
        writers = Writers(ts_dsn, max_queue=10_000)
        await writers.start(wait=10)
        with psycopg.connect(owner) as blocker:
            blocker.execute("lock table kstore.orderbook_deltas in access exclusive mode")
            started = time.perf_counter()
            for row in rows:
                writers.put("orderbook_deltas", row)
            put_seconds = time.perf_counter() - started
            await asyncio.sleep(0.3)
            stalled = writers.stats()["tables"]["orderbook_deltas"]
        await writers.close()
        return put_seconds, stalled

    with caplog.at_level(logging.WARNING, logger="kstore.gatherer.writer"):
        put_seconds, stalled = run(scenario())
    assert put_seconds < 1.0, f"50k puts took {put_seconds:.2f}s"
    assert stalled["committed"] == 0 and stalled["queued"] + stalled["in_flight"] == 50_000
    assert any("max_queue 10000" in record.getMessage() for record in caplog.records)
    assert count(ts_dsn, "orderbook_deltas") == 50_000


@pytest.fixture
def own_server():
    """A cluster of its own: these tests stop and crash it."""
    started = ScratchServer("plain", PG_BIN).start()
    yield started
    started.stop()


@pytest.mark.slow
@pytest.mark.parametrize("outage", ["stop", "kill"])
def test_a_server_restart_mid_write_loses_and_duplicates_nothing(own_server, outage):
    db = own_server.database("gatherer_ts")
    dsn = own_server.cluster.dsn(db.dbname, user=WRITER)
    rows = [delta(n) for n in range(30_000)]

    async def scenario():
        writers = Writers(dsn, max_backoff=0.2)
        await writers.start(wait=10)
        for index, row in enumerate(rows):
            writers.put("orderbook_deltas", row)
            if index == 10_000:
                await asyncio.to_thread(getattr(own_server.cluster, outage))
            elif index == 20_000:
                await asyncio.to_thread(own_server.cluster.start)
            if index % 100 == 0:
                await asyncio.sleep(0.005 if 10_000 < index < 20_000 else 0)
        await writers.close(timeout=60)
        return writers.stats()

    stats = run(scenario())
    assert count(dsn, "orderbook_deltas") == 30_000
    assert rows_of(dsn, "select count(distinct seq) from kstore.orderbook_deltas") == [(30_000,)]
    assert stats["failures"] > 0 and stats["tables"]["orderbook_deltas"]["committed"] >= 30_000


def test_close_reports_the_rows_it_could_not_write():
    dsn = f"host=127.0.0.1 port={free_port()} dbname=nowhere user={WRITER} connect_timeout=1"
    rows = [delta(n) for n in range(250)]

    async def scenario():
        writers = Writers(dsn, max_backoff=0.1, pools=ROUTING)  # no database to read it from
        await writers.start()
        for row in rows:
            writers.put("orderbook_deltas", row)
        with pytest.raises(UnwrittenRows) as raised:
            await writers.close(timeout=1.5)
        with pytest.raises(RuntimeError):
            writers.put("orderbook_deltas", rows[0])
        return raised.value

    unwritten = run(scenario())
    assert sorted(unwritten.rows["orderbook_deltas"]) == sorted(rows)
    assert "orderbook_deltas: 250" in str(unwritten)


def test_an_unknown_table_is_refused_loudly():
    writers = Writers("host=127.0.0.1", pools=ROUTING)
    with pytest.raises(ValueError, match="unknown table 'order_book'"):
        writers.put("order_book", delta(1))
