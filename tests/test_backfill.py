"""kstore backfill on real clusters: a gatherer's gap is refilled from another gatherer or from
production exactly once, nothing outside the window is touched, a rerun is a no-op."""

from __future__ import annotations

import argparse
import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from kstore import backfill
from kstore.gatherer.rows import TABLE_COLUMNS
from kstore.settings import SettingsError, load
from kstore.topology import Database

SINCE = datetime(2025, 6, 10, 12, tzinfo=timezone.utc)
UNTIL = SINCE + timedelta(hours=2)
MINUTES = range(-30, 151, 5)  # g2's rows: before, inside, at --until and after the window
GAP = range(30, 90)  # g1 was down
GAP_TIMES = {SINCE + timedelta(minutes=m) for m in MINUTES if m in GAP}
# What the table catalog says backfill copies, and the column its windows are cut on.
TIME_COLUMNS = {"trades": "ts", "orderbook_deltas": "ts", "orderbook_snapshots": "captured_at",
                "tickers": "ts"}
TABLES = tuple(TIME_COLUMNS)
KEYS = {
    "trades": ("trade_id", "ts"),
    "orderbook_deltas": ("market_ticker", "ts", "side", "price", "delta", "dup_ordinal",
                         "key_scope"),
    "orderbook_snapshots": ("market_ticker", "captured_at", "gatherer_id", "source"),
    "tickers": ("market_ticker", "ts", "fingerprint"),
}
WRITER = "kstore_gatherer_writer"


def rows_at(table: str, minute: int, gatherer: str) -> list[tuple]:
    """Rows of `table` at SINCE + minute as `gatherer` captured them (TABLE_COLUMNS order):
    same exchange keys on every gatherer, its own receive times, sequence and id."""
    ts = SINCE + timedelta(minutes=minute)
    received = ts + timedelta(milliseconds=int(gatherer[-1]) if gatherer[-1].isdigit() else 9)
    seq = minute * 10 + len(gatherer)
    return ROWS[table](minute, ts, received, seq, gatherer)


ROWS = {
    "trades": lambda minute, ts, received, seq, gid: [(
        uuid.uuid5(uuid.NAMESPACE_OID, str(minute)), ts, "KXHIGHNY-25JUN10-B80.5",
        Decimal("0.360000"), Decimal("0.640000"), Decimal("136.00"), "no", "ask", False, ts,
        received, gid)],
    "orderbook_deltas": lambda minute, ts, received, seq, gid: [
        ("KXHIGHNY-25JUN10-B80.5", ts, "yes", Decimal("0.4200"), Decimal("-54.00"), ordinal, "",
         False, 1, seq + ordinal, "conn-" + gid, ts, received, gid) for ordinal in (0, 1)],
    "orderbook_snapshots": lambda minute, ts, received, seq, gid: [(
        "KXHIGHNY-25JUN10-B80.5", ts, gid, "rest", [Decimal("0.01"), Decimal("0.420000")],
        [Decimal("1.00"), Decimal("99999999.99")], [Decimal("0.5")], [Decimal("3.25")], False,
        None, None, None, received)],
    "tickers": lambda minute, ts, received, seq, gid: [(
        "KXHIGHNY-25JUN10-B80.5", ts, minute, Decimal("0.48"), Decimal("0.47"), Decimal("0.49"),
        Decimal("10.00"), Decimal("5.00"), Decimal("1.00"), Decimal("1000.00"),
        Decimal("300.00"), 480, 144, ts, received, gid)],
}


def insert(dsn: str, table: str, minutes, gatherer: str) -> None:
    columns = TABLE_COLUMNS[table]
    statement = sql.SQL("insert into {} ({}) values ({})").format(
        sql.Identifier("kstore", table), sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)))
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(statement, [row for minute in minutes
                                    for row in rows_at(table, minute, gatherer)])


def stored(dsn: str, table: str) -> dict[tuple, tuple]:
    """Every row of `table` by its dedup key: the TABLE_COLUMNS values, then xact_id."""
    names = sql.SQL(", ").join(map(sql.Identifier, TABLE_COLUMNS[table]))
    query = sql.SQL("select {}, xact_id::text from {}").format(
        names, sql.Identifier("kstore", table))
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(query).fetchall()
    key = [TABLE_COLUMNS[table].index(column) for column in KEYS[table]]
    return {tuple(row[i] for i in key): row for row in rows}


def split(table: str, rows: dict[tuple, tuple]) -> tuple[dict, dict]:
    """(rows inside [SINCE, UNTIL), rows outside)."""
    at = TABLE_COLUMNS[table].index(TIME_COLUMNS[table])
    inside = {key: row for key, row in rows.items() if SINCE <= row[at] < UNTIL}
    return inside, {key: row for key, row in rows.items() if key not in inside}


def xact(row: tuple) -> int:
    return int(row[-1])


@pytest.fixture
def gatherers(server):
    """g1 (reached as its writer role, as a deployment configures it) and g2 (admin DSN),
    both migrated; returns settings naming them and the admin DSNs."""
    g1, g2 = server.database("gatherer_ts"), server.database("gatherer_ts")

    def settings(**dsn):
        return server.settings(gatherers=["g1", "g2"], dsn={
            "g1_ts": g1.dsn_as(WRITER), "g2_ts": g2.dsn} | dsn)

    return settings, g1.dsn, g2.dsn


def backfill_run(settings, source="g2", table="all", since=SINCE, until=UNTIL):
    plan = backfill.plan(settings, source, "g1", table, since, until)
    return backfill.run(plan, progress=False)


def test_a_gap_is_refilled_exactly_once_and_nothing_outside_is_touched(gatherers):
    settings, g1, g2 = gatherers
    for table in TABLES:
        insert(g2, table, MINUTES, "g2")
        insert(g1, table, [m for m in MINUTES if m not in GAP and m < 120], "g1")
    before = {table: stored(g1, table) for table in TABLES}

    result = backfill_run(settings())

    for table in TABLES:
        after, source = stored(g1, table), stored(g2, table)
        inside_before, outside_before = split(table, before[table])
        inside_after, outside_after = split(table, after)
        inside_source, _ = split(table, source)
        assert outside_after == outside_before, f"{table}: a row outside the window changed"
        assert inside_after.keys() == inside_before.keys() | inside_source.keys()
        if table != "orderbook_snapshots":  # snapshots are keyed per gatherer
            assert inside_after.keys() == inside_source.keys()
        new = inside_after.keys() - inside_before.keys()
        assert new == inside_source.keys() - inside_before.keys()
        if table != "orderbook_snapshots":  # the gap, and nothing else
            at = TABLE_COLUMNS[table].index(TIME_COLUMNS[table])
            assert {after[key][at] for key in new} == GAP_TIMES
        for key in new:  # g2's row as captured; a new xact_id from g1, so dedup pulls it
            assert after[key][:-1] == source[key][:-1]
            assert xact(after[key]) > max(map(xact, before[table].values()))
        for key in inside_before:  # rows on both stay single, as g1 had them
            assert after[key] == before[table][key]
        counts = result.tables[table]
        assert (counts.windows, counts.read, counts.inserted, counts.skipped) == (
            2, len(inside_source), len(new), len(inside_source) - len(new))


def test_running_it_twice_inserts_nothing(gatherers):
    settings, g1, g2 = gatherers
    for table in TABLES:
        insert(g2, table, MINUTES, "g2")
        insert(g1, table, range(0, 30, 5), "g1")
    first = backfill_run(settings())
    after_first = {table: stored(g1, table) for table in TABLES}

    second = backfill_run(settings())

    assert first.total.inserted > 0
    assert (second.total.read, second.total.inserted, second.total.skipped) == (
        first.total.read, 0, first.total.read)
    assert {table: stored(g1, table) for table in TABLES} == after_first


def test_rows_present_on_both_stay_single(gatherers):
    settings, g1, g2 = gatherers
    for table in TABLES:
        insert(g2, table, range(0, 120, 5), "g2")
        insert(g1, table, range(0, 120, 5), "g1")
    before = {table: stored(g1, table) for table in TABLES}

    result = backfill_run(settings(), table="trades")

    assert stored(g1, "trades") == before["trades"]  # g1's own version, its own xact_id
    assert (result.total.read, result.total.inserted) == (24, 0)
    assert set(result.tables) == {"trades"}
    assert {table: stored(g1, table) for table in TABLES} == before


def test_a_failed_window_leaves_nothing_and_a_rerun_resumes(gatherers):
    settings, g1, g2 = gatherers
    insert(g2, "trades", MINUTES, "g2")
    with psycopg.connect(g1) as conn:  # the second hour cannot be written, for now
        conn.execute(sql.SQL("alter table kstore.trades add constraint not_yet check (ts < {})")
                     .format(sql.Literal(SINCE + timedelta(hours=1))))

    with pytest.raises(psycopg.errors.CheckViolation):
        backfill_run(settings(), table="trades")
    first_hour = split("trades", stored(g1, "trades"))[0]
    assert len(first_hour) == 12  # the first window committed, nothing of the second

    with psycopg.connect(g1) as conn:
        conn.execute("alter table kstore.trades drop constraint not_yet")
    result = backfill_run(settings(), table="trades")
    assert (result.total.read, result.total.inserted) == (24, 12)
    assert split("trades", stored(g1, "trades"))[0].keys() == split(
        "trades", stored(g2, "trades"))[0].keys()


def test_compressed_chunks_are_read_and_refilled_exactly_once(timescaledb_server):
    """After a day, both sides' chunks are compressed (policies/gatherer_ts.sql)."""
    g1, g2 = timescaledb_server.database("gatherer_ts"), timescaledb_server.database(
        "gatherer_ts")
    settings = timescaledb_server.settings(gatherers=["g1", "g2"], dsn={
        "g1_ts": g1.dsn_as(WRITER), "g2_ts": g2.dsn})
    for table in TABLES:
        insert(g2.dsn, table, MINUTES, "g2")
        insert(g1.dsn, table, [m for m in MINUTES if m not in GAP], "g1")
    for dsn in (g1.dsn, g2.dsn):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("select public.compress_chunk(c) from ops.timeseries as t,"
                         " public.show_chunks(t.table_name) as c")
            assert conn.execute("select count(*) from timescaledb_information.chunks"
                                " where is_compressed").fetchone()[0] >= len(TABLES)
    before = {table: stored(g1.dsn, table) for table in TABLES}

    first = backfill_run(settings)
    second = backfill_run(settings)

    for table in TABLES:
        inside_source = split(table, stored(g2.dsn, table))[0]
        after = stored(g1.dsn, table)
        assert after.keys() == before[table].keys() | inside_source.keys()
        assert first.tables[table].inserted == len(after) - len(before[table])
    assert (second.total.inserted, second.total.read) == (0, first.total.read)


def test_backfill_from_production(server, gatherers):
    production = server.database("production").dsn
    settings, g1, g2 = gatherers
    for table in TABLES:
        insert(production, table, MINUTES, "g3")
        insert(g1, table, range(0, 30, 5), "g1")
    before = {table: stored(g1, table) for table in TABLES}

    result = backfill_run(settings(production=production), source="production")

    with psycopg.connect(g1) as conn:
        assert conn.execute("select count(*) from information_schema.columns where "
                            "table_schema = 'kstore' and column_name = 'merged_at'"
                            ).fetchone()[0] == 0
    for table in TABLES:
        inside_source, _ = split(table, stored(production, table))
        after = stored(g1, table)
        new = after.keys() - before[table].keys()
        assert new == inside_source.keys() - before[table].keys()
        assert all(after[key][:-1] == inside_source[key][:-1] for key in new)
        assert result.tables[table].inserted == len(new)
    # g1's 6 minutes: trades, deltas (2 a minute), tickers; snapshots are keyed per gatherer
    assert result.total.skipped == 6 + 12 + 6 + 0


def test_main_prints_progress_and_one_summary_line(gatherers, capsys):
    settings, g1, g2 = gatherers
    insert(g2, "tickers", MINUTES, "g2")
    parsed = parse(["--from", "g2", "--to", "g1", "--table", "tickers",
                    "--since", "2025-06-10T12:00:00Z", "--until", "2025-06-10 14:00",
                    "--window", "30m"])

    assert backfill.main(settings(), parsed) == 0

    out, err = capsys.readouterr()
    assert out.count("\n") == 1
    assert re.search(r"4 windows, rows read 24, inserted 24, skipped 0$", out.strip()), out
    assert "4/4" in err and "window" in err


def test_a_source_without_the_table_is_a_one_line_error(server, gatherers):
    settings, g1, g2 = gatherers
    empty = server.database("gatherer_ts", migrated=False)
    with pytest.raises(SettingsError) as raised:
        backfill_run(settings(g2_ts=empty.dsn), table="trades")
    assert "missing on the source" in str(raised.value) and "\n" not in str(raised.value)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    backfill.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize("argv, message", [
    (["--from", "g9", "--to", "g1"], "unknown source 'g9'"),
    (["--from", "g2", "--to", "g9"], "target 'g9' is not a gatherer"),
    (["--from", "g2", "--to", "production"], "target 'production' is not a gatherer"),
    (["--from", "g1", "--to", "g1"], "source and target are both 'g1'"),
    (["--from", "g2", "--to", "g1", "--until", "2025-06-10T12:00:00+00:00"], "is not after"),
    (["--from", "g2", "--to", "g1", "--until", "2025-06-10T11:00"], "is not after"),
    (["--from", "g2", "--to", "g1", "--since", "yesterday"], "not an ISO 8601 time"),
    (["--from", "g2", "--to", "g1", "--window", "0h"], "not a positive duration"),
    (["--from", "g2", "--to", "g1", "--window", "hourly"], "not a positive duration"),
])
def test_bad_input_is_a_one_line_error(tmp_path, argv, message):
    settings = load(None, home=tmp_path, gatherers=["g1", "g2"])
    times = {"--since": "2025-06-10T12:00:00Z", "--until": "2025-06-10T14:00:00Z"}
    for option, value in times.items():
        if option not in argv:
            argv = [*argv, option, value]
    with pytest.raises(SettingsError) as raised:
        backfill.main(settings, parse(argv))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_tables_come_from_the_table_catalog(gatherers):
    """`all` is every table the target's catalog marks for backfill, cut on its time column and
    deduplicated on its primary key."""
    settings, g1, g2 = gatherers
    plan = backfill.plan(settings(), "g2", "g1", "all", SINCE, UNTIL)
    assert {t.name: t.time_column for t in plan.tables} == TIME_COLUMNS
    assert {t.name: t.key_columns for t in plan.tables} == KEYS
    assert [t.name for t in backfill.plan(settings(), "g2", "g1", "tickers", SINCE, UNTIL)
            .tables] == ["tickers"]


@pytest.mark.parametrize("table", ["markets", "quarantine", "nothing"])
def test_a_table_the_catalog_does_not_backfill_is_a_one_line_error(gatherers, table):
    settings, g1, g2 = gatherers
    argv = ["--from", "g2", "--to", "g1", "--table", table, "--since", "2025-06-10T12:00:00Z",
            "--until", "2025-06-10T14:00:00Z"]
    with pytest.raises(SettingsError) as raised:
        backfill.main(settings(), parse(argv))
    message = str(raised.value)
    assert f"unknown table {table!r}" in message and "\n" not in message
    assert "trades" in message


def test_windows_follow_the_utc_grid(gatherer_ts):
    start = datetime(2025, 6, 10, 10, 30, tzinfo=timezone.utc)
    edges = backfill.windows(gatherer_ts, start, start + timedelta(hours=1, minutes=45),
                             timedelta(hours=1))
    assert [(a.astimezone(timezone.utc).strftime("%H:%M"), b.astimezone(timezone.utc)
             .strftime("%H:%M")) for a, b in edges] == [
        ("10:30", "11:00"), ("11:00", "12:00"), ("12:00", "12:15")]
    assert backfill.windows(gatherer_ts, SINCE, UNTIL, timedelta(days=1)) == [(SINCE, UNTIL)]


def test_the_target_is_written_as_its_writer_role():
    dsn = "host=127.0.0.1 port=5432 dbname=ts user=postgres"
    embedded = Database("g1_ts", "g1", "ts", "gatherer_ts", dsn, embedded=True)
    external = Database("g1_ts", "g1", "ts", "gatherer_ts", dsn, embedded=False)
    assert "user=kstore_gatherer_writer" in backfill.writer_dsn(embedded)
    assert backfill.writer_dsn(external) == dsn


def test_the_cli_refuses_bad_input_in_one_line():
    from conftest import run_kstore

    result = run_kstore("backfill", "--from", "g1", "--to", "g1", "--since", "2026-01-01",
                        "--until", "2026-01-02")
    assert result.returncode == 1
    assert result.stderr.startswith("kstore: error: ") and result.stderr.count("\n") == 1
