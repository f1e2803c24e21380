"""kstore.transform: `dbt build` of the processed and aggregate layers on a real production DB.

One migrated production database per storage path is seeded with SQL (three markets with known
tick grids, trades at known prices and times, tickers, deltas, snapshots), then built as
kstore_transform four times: first build, an unchanged rebuild, a rebuild after late rows, and
a full refresh. Each test reads the states those builds left (dbt is slow: few invocations).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import psycopg
import pytest
from psycopg.types.json import Jsonb

from conftest import REPO_ROOT
from kstore import transform
from kstore.settings import Settings, SettingsError, load
from kstore.topology import Database

DAY = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()  # inside test windows
CPI_SERIES, TEMP_SERIES = "KXSIMCPI", "KXSIMTEMP"
CPI_EVENT, TEMP_EVENT = "KXSIMCPI-26JAN", "KXSIMTEMP-26JAN05"
LINEAR, TAPERED, TEMP = "KXSIMCPI-26JAN-B3", "KXSIMCPI-26JAN-B4", "KXSIMTEMP-26JAN05-T40"
UNKNOWN = "KXSIMIDX-26JAN05-T5000"  # trades, but no market row
GRIDS = {
    "linear_cent": [("0.0000", "1.0000", "0.0100")],
    "tapered_deci_cent": [("0.0000", "0.1000", "0.0010"), ("0.1000", "0.9000", "0.0100"),
                          ("0.9000", "1.0000", "0.0010")],
}
MARKETS = [  # ticker, event, series, structure, fractional trading
    (LINEAR, CPI_EVENT, CPI_SERIES, "linear_cent", True),
    (TAPERED, CPI_EVENT, CPI_SERIES, "tapered_deci_cent", False),
    (TEMP, TEMP_EVENT, TEMP_SERIES, "linear_cent", False),
]
TRADES = [  # id suffix, market, time on DAY, yes price, no price, count
    ("a1", LINEAR, "10:00:05", "0.40", "0.60", "10"),
    ("a2", LINEAR, "10:00:20", "0.45", "0.55", "5"),
    ("a3", LINEAR, "10:00:40", "0.38", "0.62", "20"),
    ("a4", LINEAR, "10:00:59.999", "0.42", "0.58", "1"),
    ("a5", LINEAR, "10:01:00", "0.42", "0.58", "3"),
    ("a6", LINEAR, "10:01:30", "0.50", "0.50", "2.50"),
    ("a7", LINEAR, "11:30:00", "0.55", "0.45", "4"),
    ("b1", TAPERED, "10:00:10", "0.055", "0.945", "100"),
    ("b2", TAPERED, "10:00:50", "0.125", "0.875", "10"),  # off the 0.01 band's grid
    ("b3", TAPERED, "10:02:00", "0.30", "0.69", "1"),  # yes + no != 1
    ("b4", TAPERED, "10:03:00", "0.31", "0.69", "1.50"),  # fractional, not allowed here
    ("c1", TEMP, "10:15:00", "0.70", "0.30", "8"),
    ("c2", TEMP, "10:45:00", "0.72", "0.28", "2"),
    ("u1", UNKNOWN, "10:20:00", "0.50", "0.50", "1"),
]
TICKERS = [  # market, time, yes_bid, yes_ask, bid size, ask size
    (LINEAR, "10:00:00", "0.39", "0.41", "100", "50"),
    (LINEAR, "10:30:00", "0.40", "0.43", "200", "60"),
    (LINEAR, "11:00:00", "0", "0.44", "0", "10"),  # one-sided: no spread
    (TEMP, "10:15:00", "0.69", "0.71", "5", "5"),
]
DELTAS = [  # market, time, side, price as sent, delta, key_scope, use_yes_price
    (LINEAR, "10:00:01", "yes", "0.39", "100", "", False),
    (LINEAR, "10:00:02", "no", "0.59", "50", "", False),
    (LINEAR, "10:00:03", "yes", "0.395", "5", "", False),  # off the cent grid
    (LINEAR, "10:00:04", "yes", "0.38", "1", "g1", False),  # no exchange time
    (TAPERED, "10:00:05", "no", "0.95", "20", "", True),  # YES scale: NO leg at 0.05
]
SNAPSHOTS = [  # market, time, gatherer, source, yes prices+sizes, no prices+sizes, yes scale
    (LINEAR, "10:00:00", "g1", "ws", ["0.38", "0.39"], ["10", "100"], ["0.58", "0.59"],
     ["5", "50"], False),
    (LINEAR, "10:05:00", "g1", "rest", ["0.40", "0.45"], ["1", "2"], ["0.56"], ["3"], False),
    (TAPERED, "10:00:00", "g2", "ws", [], [], [], [], False),
    (TAPERED, "10:01:00", "g2", "ws", ["0.05"], ["10"], ["0.95"], ["20"], True),
]
AGGREGATES = ("agg_candles_1m", "agg_candles_1h", "agg_candles_1d", "agg_market_daily",
              "agg_series_activity_1h")
TRADE_FLAGS = ("is_unknown_market", "is_off_tick_grid", "is_price_sum_off",
               "is_fractional_unexpected")
MERGED_EARLIER = "1 hour"  # the seed reached production well before the builds' lookback
PROCESSED = ("prc_trades", "prc_orderbook_deltas", "prc_orderbook_snapshots")


def at(clock: str) -> str:
    return f"{DAY} {clock}+00"


def seed(conn: psycopg.Connection) -> None:
    """Reference rows, then the time series, each statement committed on its own."""
    for series, category in ((CPI_SERIES, "Economics"), (TEMP_SERIES, "Climate and Weather")):
        insert_series(conn, series, category)
    for event, series in ((CPI_EVENT, CPI_SERIES), (TEMP_EVENT, TEMP_SERIES)):
        insert_event(conn, event, series)
    for row in MARKETS:
        insert_market(conn, *row)
    for row in TRADES:
        recent = row[1] == UNKNOWN  # merged minutes before its market arrives (late_rows)
        insert_trade(conn, *row, merged_ago=None if recent else MERGED_EARLIER)
    for fingerprint, row in enumerate(TICKERS):
        insert_ticker(conn, fingerprint, *row, merged_ago=MERGED_EARLIER)
    for market, clock, side, price, delta, scope, yes_scale in DELTAS:
        conn.execute(
            "insert into kstore.orderbook_deltas (market_ticker, ts, side, price, delta, "
            "key_scope, use_yes_price, gatherer_id, merged_at) "
            "values (%s, %s, %s, %s, %s, %s, %s, 'g1', now() - %s::interval)",
            [market, at(clock), side, price, delta, scope, yes_scale, MERGED_EARLIER])
    for market, clock, gid, source, yp, ys, np_, ns, yes_scale in SNAPSHOTS:
        conn.execute(
            "insert into kstore.orderbook_snapshots (market_ticker, captured_at, gatherer_id, "
            "source, yes_prices, yes_sizes, no_prices, no_sizes, use_yes_price, merged_at) "
            "values (%s, %s, %s, %s, %s::numeric[], %s::numeric[], %s::numeric[], "
            "%s::numeric[], %s, now() - %s::interval)",
            [market, at(clock), gid, source, yp, ys, np_, ns, yes_scale, MERGED_EARLIER])


def insert_series(conn, series: str, category: str) -> None:
    conn.execute("insert into kstore.series (series_ticker, title, category, raw) "
                 "values (%s, %s, %s, '{}')", [series, f"{series} title", category])


def insert_event(conn, event: str, series: str) -> None:
    conn.execute("insert into kstore.events (event_ticker, series_ticker, title, raw) "
                 "values (%s, %s, %s, '{}')", [event, series, f"{event} title"])


def insert_market(conn, ticker, event, series, structure, fractional) -> None:
    ranges = [{"start": a, "end": b, "step": s} for a, b, s in GRIDS[structure]]
    conn.execute(
        "insert into kstore.markets (market_ticker, event_ticker, series_ticker, title, status, "
        "price_level_structure, fractional_trading_enabled, updated_time, raw) "
        "values (%s, %s, %s, %s, 'active', %s, %s, %s, %s)",
        [ticker, event, series, f"{ticker} title", structure, fractional, at("09:00:00"),
         Jsonb({"ticker": ticker, "price_ranges": ranges})])


def insert_trade(conn, suffix, market, clock, yes, no, count, merged_ago=None) -> None:
    """merged_ago: how long before now the row reached production (None: now, as a merge)."""
    trade_id = f"00000000-0000-0000-0000-{suffix.encode().hex():0>12}"
    conn.execute(
        "insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count, "
        "taker_outcome_side, gatherer_id, merged_at) "
        "values (%s, %s, %s, %s, %s, %s, 'yes', 'g1', now() - coalesce(%s, '0')::interval)",
        [trade_id, at(clock), market, yes, no, count, merged_ago])


def insert_ticker(conn, fingerprint, market, clock, bid, ask, bid_size, ask_size,
                  merged_ago=None) -> None:
    conn.execute(
        "insert into kstore.tickers (market_ticker, ts, fingerprint, yes_bid, yes_ask, "
        "yes_bid_size, yes_ask_size, gatherer_id, merged_at) "
        "values (%s, %s, %s, %s, %s, %s, %s, 'g1', now() - coalesce(%s, '0')::interval)",
        [market, at(clock), fingerprint, bid, ask, bid_size, ask_size, merged_ago])


def late_rows(conn: psycopg.Connection) -> None:
    """What reaches production after the first builds, for times those builds already covered:
    a trade merged now into the built minute 10:00; a trade stamped a minute before the newest
    merge (its transaction committed late) into 10:01; a ticker for the built day; and the
    market (with its event and series) of the trade that had none."""
    insert_trade(conn, "l1", LINEAR, "10:00:30", "0.60", "0.40", "10")
    before_newest = conn.execute(
        "select now() - max(merged_at) + interval '1 minute' from kstore.trades").fetchone()[0]
    insert_trade(conn, "l2", LINEAR, "10:01:10", "0.48", "0.52", "2", merged_ago=before_newest)
    insert_ticker(conn, 99, LINEAR, "12:00:00", "0.41", "0.42", "300", "40")
    insert_series(conn, "KXSIMIDX", "Financials")
    insert_event(conn, "KXSIMIDX-26JAN05", "KXSIMIDX")
    insert_market(conn, UNKNOWN, "KXSIMIDX-26JAN05", "KXSIMIDX", "linear_cent", False)


def layer_state(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Every row of every processed and aggregate table as sorted JSON text, without xact_id
    (which transaction wrote a row: see row_versions)."""
    return {name: [row[0] for row in conn.execute(
        f"select (to_jsonb(t) - 'xact_id')::text from {schema}.{name} as t order by 1")]
        for schema, names in (("processed", PROCESSED), ("aggregates", AGGREGATES))
        for name in names}


def row_versions(conn: psycopg.Connection) -> dict[tuple, str]:
    """The transaction that wrote each 1-minute candle: unchanged when a build left it alone."""
    rows = conn.execute("select market_ticker, candle_start, xact_id::text "
                        "from aggregates.agg_candles_1m")
    return {(market, start): xact_id for market, start, xact_id in rows}


@dataclass
class Builds:
    results: dict[str, transform.DbtResult]
    states: dict[str, dict[str, list[str]]]
    versions: dict[str, dict[tuple, str]]
    db: Database
    settings: Settings


@pytest.fixture(scope="module", params=["plain", "timescaledb"])
def builds(request) -> Builds:
    """Seed, then: first build, unchanged rebuild, late rows + rebuild, full refresh."""
    server = request.getfixturevalue(f"{request.param}_server")
    db = server.database("production")
    settings = server.settings()
    found = Builds({}, {}, {}, db, settings)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        seed(conn)
        for step in ("first", "unchanged", "late", "full_refresh"):
            if step == "late":
                late_rows(conn)
            found.results[step] = transform.run(  # the layers' export: tests/test_export.py
                settings, db, full_refresh=step == "full_refresh", export=False)
            if not found.results[step].ok:
                break  # the tests of this and later steps report it
            found.states[step] = layer_state(conn)
            found.versions[step] = row_versions(conn)
    return found


def built(builds: Builds, step: str) -> None:
    result = builds.results.get(step)
    assert result is not None, f"the {step} build did not run: an earlier one failed"
    assert result.ok, result.messages


def rows(builds: Builds, step: str, table: str) -> list[dict]:
    built(builds, step)
    return [json.loads(text, parse_float=D) for text in builds.states[step][table]]


def candle(builds: Builds, step: str, market: str, clock: str) -> dict:
    start = f"{DAY}T{clock}:00+00:00"
    for row in rows(builds, step, "agg_candles_1m"):
        if row["market_ticker"] == market and row["candle_start"] == start:
            return row
    raise AssertionError(f"no 1-minute candle {market} {start} after the {step} build")


def ohlcv(row: dict) -> tuple:
    return tuple(D(str(row[key])) for key in
                 ("open", "high", "low", "close", "volume", "notional", "vwap", "trade_count"))


def test_build_passes_models_schema_tests_and_unit_tests(builds):
    built(builds, "first")
    result = builds.results["first"]
    kinds = {uid.split(".")[0] for uid in result.statuses}
    assert kinds == {"model", "test", "unit_test"}
    models = {uid.split(".")[-1] for uid in result.statuses if uid.startswith("model.")}
    assert set(PROCESSED + AGGREGATES) <= models
    assert {uid.split(".")[-2] for uid in result.statuses if uid.startswith("unit_test.")} \
        >= set(PROCESSED + AGGREGATES), "every processed and aggregate model has a unit test"
    manifest = json.loads((builds.settings.home / "dbt" / "target" / "manifest.json").read_text())
    tested = {parent for node in manifest["nodes"].values() if node["resource_type"] == "test"
              for parent in node["depends_on"]["nodes"]}
    untested = {uid for uid in manifest["nodes"] if uid.startswith("model.")} - tested
    assert not untested, "every model has schema tests"
    warned = [uid for uid, status in result.statuses.items() if status == "warn"]
    assert len(warned) == 1 and "relationships_prc_trades_market_ticker" in warned[0], (
        "only the trade whose market has not arrived yet is reported (a warning)")


def test_lake_export_is_declared_in_the_models_yml(builds):
    """What `kstore transform` exports (relation, window column, granularity) comes from each
    model's yml meta.lake, read from the build's manifest: every processed and aggregate model."""
    built(builds, "first")
    assert set(transform.lake_models(builds.settings)) == {
        ("processed.prc_trades", "traded_at", "day"),
        ("processed.prc_orderbook_deltas", "delta_at", "hour"),
        ("processed.prc_orderbook_snapshots", "captured_at", "day"),
        ("aggregates.agg_candles_1m", "candle_start", "day"),
        ("aggregates.agg_candles_1h", "candle_start", "day"),
        ("aggregates.agg_candles_1d", "candle_start", "day"),
        ("aggregates.agg_market_daily", "day_start", "day"),
        ("aggregates.agg_series_activity_1h", "hour_start", "day"),
    }


def test_lake_export_needs_a_build(tmp_path):
    settings = load(None, home=tmp_path)
    with pytest.raises(SettingsError, match="no dbt manifest"):
        transform.lake_models(settings)


def test_every_column_is_documented(builds):
    """Every column of every model and source, as built in production, has a description in its
    yml (what `make docs` shows); a source column's is production's own comment on it, word for
    word, so psql's \\d+ and dbt docs never disagree (sql/*/comments.sql is the truth)."""
    built(builds, "first")
    manifest = json.loads((builds.settings.home / "dbt" / "target" / "manifest.json").read_text())
    nodes = [node for node in [*manifest["nodes"].values(), *manifest["sources"].values()]
             if node["resource_type"] in ("model", "source")]
    undocumented, differing = [], []
    with psycopg.connect(builds.db.dsn) as conn:
        for node in nodes:
            relation = f"{node['schema']}.{node.get('identifier') or node['alias']}"
            described = {name: " ".join(column.get("description", "").split())
                         for name, column in node["columns"].items()}
            found = conn.execute(
                "select attname, col_description(attrelid, attnum) from pg_attribute"
                " where attrelid = %s::regclass and attnum > 0 and not attisdropped"
                " order by attnum", (relation,)).fetchall()
            assert found, f"{relation} has no columns in production"
            undocumented += [f"{relation}.{name}" for name, _ in found if not described.get(name)]
            differing += [f"{relation}.{name}" for name, comment in found
                          if node["resource_type"] == "source" and described.get(name)
                          and described[name] != " ".join((comment or "").split())]
    assert not undocumented, f"columns without a description: {undocumented}"
    assert not differing, f"source column descriptions unlike production's comment: {differing}"


def test_one_minute_candles_match_hand_computed(builds):
    # 10:00: 0.40 x10, 0.45 x5, 0.38 x20, 0.42 x1 (at 10:00:59.999); 10:01: 0.42 x3, 0.50 x2.5
    assert ohlcv(candle(builds, "first", LINEAR, "10:00")) == (
        D("0.40"), D("0.45"), D("0.38"), D("0.42"), D("36"), D("14.27"), D("0.396389"), 4)
    assert ohlcv(candle(builds, "first", LINEAR, "10:01")) == (
        D("0.42"), D("0.50"), D("0.42"), D("0.50"), D("5.50"), D("2.51"), D("0.456364"), 2)
    assert ohlcv(candle(builds, "first", TAPERED, "10:00")) == (
        D("0.055"), D("0.125"), D("0.055"), D("0.125"), D("110"), D("6.75"), D("0.061364"), 2)


def test_processed_flags(builds):
    trades = rows(builds, "first", "prc_trades")
    problems = {row["trade_id"][-4:]: [flag for flag in TRADE_FLAGS if row[flag]]
                for row in trades if not row["is_clean"]}
    assert problems == {"6232": ["is_off_tick_grid"], "6233": ["is_price_sum_off"],
                        "6234": ["is_fractional_unexpected"], "7531": ["is_unknown_market"]}
    deltas = {(row["side"], row["price"]): row for row in rows(builds, "first",
                                                               "prc_orderbook_deltas")}
    no_on_yes_scale = deltas[("no", D("0.95"))]
    assert (no_on_yes_scale["leg_price"], no_on_yes_scale["yes_price"]) == (D("0.05"), D("0.95"))
    assert (deltas[("no", D("0.59"))]["leg_price"], deltas[("no", D("0.59"))]["yes_price"]) == (
        D("0.59"), D("0.41"))
    assert deltas[("yes", D("0.395"))]["is_off_tick_grid"] is True
    assert deltas[("yes", D("0.38"))]["is_missing_exchange_time"] is True
    assert sum(row["is_clean"] for row in deltas.values()) == 3
    books = {(row["market_ticker"], row["captured_at"][11:16]): row
             for row in rows(builds, "first", "prc_orderbook_snapshots")}
    book = books[(LINEAR, "10:00")]
    assert (book["yes_levels"], book["no_levels"], book["best_yes_bid"], book["best_yes_ask"],
            book["spread"], book["is_clean"]) == (2, 2, D("0.39"), D("0.41"), D("0.02"), True)
    assert books[(LINEAR, "10:05")]["is_crossed"] is True
    assert books[(TAPERED, "10:00")]["is_empty_book"] is True
    assert books[(TAPERED, "10:01")]["best_yes_ask"] == D("0.95")  # NO bid 0.05, YES scale


def test_unchanged_rebuild_is_a_noop(builds):
    built(builds, "unchanged")
    assert builds.states["unchanged"] == builds.states["first"]
    # incremental, not rebuilt: only the minute inside the lookback (the unknown market's
    # trade, merged just now) was rewritten
    rewritten = {key for key, xmin in builds.versions["unchanged"].items()
                 if builds.versions["first"][key] != xmin}
    assert {market for market, _ in rewritten} == {UNKNOWN}


def test_late_rows_are_picked_up(builds):
    built(builds, "late")
    # + 0.60 x10 at 10:00:30 (merged now): new high, 46 contracts, notional 20.27
    assert ohlcv(candle(builds, "late", LINEAR, "10:00")) == (
        D("0.40"), D("0.60"), D("0.38"), D("0.42"), D("46"), D("20.27"), D("0.440652"), 5)
    # + 0.48 x2 at 10:01:10, stamped a minute before the newest merge (committed late)
    assert ohlcv(candle(builds, "late", LINEAR, "10:01")) == (
        D("0.42"), D("0.50"), D("0.42"), D("0.50"), D("7.50"), D("3.47"), D("0.462667"), 3)
    # minutes the late rows did not touch were left alone
    untouched = (TEMP, datetime.fromisoformat(f"{DAY}T10:15:00+00:00"))
    assert builds.versions["late"][untouched] == builds.versions["first"][untouched]
    daily = {row["market_ticker"]: row for row in rows(builds, "late", "agg_market_daily")}
    assert (daily[LINEAR]["volume"], daily[LINEAR]["trade_count"],
            daily[LINEAR]["ticker_updates"], daily[LINEAR]["avg_spread"],
            daily[LINEAR]["median_spread"]) == (D("57.50"), 9, 4, D("0.02"), D("0.02"))
    series = {(row["series_ticker"], row["hour_start"][11:13]): row
              for row in rows(builds, "late", "agg_series_activity_1h")}
    assert ("KXSIMIDX", "10") in series, "the market that arrived late enriches its trades"
    assert series[(CPI_SERIES, "10")]["trade_count"] == 12


def test_incremental_equals_full_refresh(builds):
    built(builds, "full_refresh")
    assert builds.states["full_refresh"] == builds.states["late"]


def test_layers_readable_by_exporter_and_analyst_only(builds):
    with psycopg.connect(builds.db.dsn, autocommit=True) as conn:
        def may(role: str, table: str, privilege: str) -> bool:
            return conn.execute("select has_table_privilege(%s, %s, %s)",
                                [role, table, privilege]).fetchone()[0]

        for table in ("processed.prc_trades", "aggregates.agg_candles_1m",
                      "aggregates.agg_market_daily"):
            assert may("kstore_exporter", table, "select") and may("kstore_analyst", table,
                                                                   "select")
            assert not may("kstore_analyst", table, "insert, update, delete")
            assert not may("kstore_dedup", table, "select")
        assert not may("kstore_transform", "kstore.trades", "insert, update, delete")


def test_xact_id_is_the_writing_transaction(builds):
    """The lake exporter re-exports windows holding rows with xact_id past its cursor: each
    row's xact_id must be the transaction that committed it (its xmin)."""
    with psycopg.connect(builds.db.dsn, autocommit=True) as conn:
        for schema, names in (("processed", PROCESSED), ("aggregates", AGGREGATES)):
            for name in names:
                assert conn.execute(
                    f"select count(*) from {schema}.{name} where xmin::text <> "
                    "(xact_id::text::bigint % 4294967296)::text").fetchone()[0] == 0, name


def test_one_transform_at_a_time(builds):
    with transform.single_run(builds.db):
        with pytest.raises(SettingsError, match="another kstore transform is running"):
            with transform.single_run(builds.db):
                pass


def test_profile_reads_the_connection_from_the_environment(builds):
    variables = transform.dbt_environment(builds.db)
    assert variables["KSTORE_DBT_USER"] == "kstore_transform"
    assert variables["KSTORE_DBT_DBNAME"] == builds.db.dbname
    profile = (REPO_ROOT / "profiles.yml").read_text()
    for name in ("HOST", "PORT", "USER", "PASSWORD", "DBNAME", "SSLMODE"):
        assert f"env_var('KSTORE_DBT_{name}'" in profile
    assert "127.0.0.1" not in profile and "localhost" not in profile


def test_freshness_through_the_command(builds, capsys):
    """`kstore transform --freshness` with KSTORE_DSN__PRODUCTION pointing at the database:
    trades and tickers merged just now are fresh, deltas merged an hour ago are stale."""
    parser = argparse.ArgumentParser()
    transform.add_arguments(parser)
    settings = builds.settings.model_copy(
        update={"dsn": {"production": builds.db.dsn_as("kstore_transform")}})
    assert transform.main(settings, parser.parse_args(["--freshness"])) != 0
    assert "source.kstore.kstore.orderbook_deltas" in capsys.readouterr().out
    statuses = transform._read_results(
        "source", 0, settings.home / "dbt" / "target" / "sources.json").statuses
    assert statuses == {"source.kstore.kstore.trades": "pass",
                        "source.kstore.kstore.orderbook_deltas": "error",
                        "source.kstore.kstore.tickers": "pass"}
