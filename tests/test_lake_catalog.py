"""`kstore lake catalog` (kstore.lake.catalog) and the layout it renders (kstore.lake.layout),
on a real production database: the datasets come from the table catalog, dbt's meta and the
manifest, the columns from production in the lake's types; each engine's DDL says so. The
engines themselves run it in tests/test_lake_engines.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import duckdb
import pytest

from conftest import run_kstore
from kstore.lake import catalog, layout
from kstore.lake.export import EXPORTER, Exporter
from kstore.lake.testing import add_trades
from kstore.lake.windows import raw_dataset
from test_export import D0, DAY, HOUR, lake_db  # noqa: F401 (a fixture)

MODELS = [("aggregates.agg_candles_1m", "candle_start", "day")]


def by_name(found: list[catalog.Table]) -> dict[str, catalog.Table]:
    return {table.name: table for table in found}


def test_layout_types_of_production_columns():
    assert layout.lake_type("uuid") == ("string", "text")
    assert layout.lake_type("jsonb") == ("string", "text")
    assert layout.lake_type("numeric(10, 6)") == ("decimal(10,6)", None)
    assert layout.lake_type("numeric") == ("decimal(38,10)", "numeric(38, 10)")
    assert layout.lake_type("numeric(18, 2)[]") == ("array<decimal(18,2)>", None)
    assert layout.lake_type("text[]") == ("array<string>", None)
    assert layout.lake_type("character varying(12)") == ("string", None)
    assert layout.lake_type("timestamp with time zone") == ("timestamp", None)
    with pytest.raises(LookupError, match="'interval' has no lake type"):
        layout.lake_type("interval")
    assert layout.Column.of("trade_id", "uuid").select == '"trade_id"::text as "trade_id"'


def test_the_raw_tables_come_from_the_catalog_with_lake_types(production):
    found = by_name(catalog.tables(production, []))
    assert set(found) == {"raw_trades", "raw_orderbook_deltas", "raw_orderbook_snapshots",
                          "raw_tickers", "raw_series", "raw_events", "raw_markets",
                          "raw_series_history", "raw_events_history", "raw_markets_history",
                          "raw_feed_gaps", "raw_reconciliation"}
    trades = {c.name: c.kind for c in found["raw_trades"].columns}
    assert (trades["trade_id"], trades["ts"], trades["yes_price"], trades["count"]) == (
        "string", "timestamp", "decimal(10,6)", "decimal(18,2)")
    assert "xact_id" not in trades, "production's transaction ids stay in production"
    snapshots = {c.name: c.kind for c in found["raw_orderbook_snapshots"].columns}
    assert snapshots["yes_prices"] == "array<decimal(10,6)>"
    markets = {c.name: c.kind for c in found["raw_markets"].columns}
    assert (markets["floor_strike"], markets["raw"]) == ("decimal(38,10)", "string")
    assert found["raw_trades"].partitions == (("dt", "date"), ("hour", "int"))
    assert found["raw_markets"].partitions == (("dt", "date"),)


def test_new_datasets_appear_without_code(production):
    """A catalog row with a lake grain, a dbt model with meta.lake, and a dataset only the
    manifest knows: all three are tables."""
    production.execute(
        "create table kstore.tap_things (thing_id uuid primary key, ts timestamptz not null);"
        " insert into ops.tables (table_name, homes, family, time_column, lake_grain,"
        " lake_prefix, description) values ('tap_things', '{production}', 'timeseries',"
        " 'ts', 'hour', 'raw/tap_things', 'a throw-away table');"
        " create schema aggregates; create table aggregates.agg_candles_1m (market_ticker text,"
        " candle_start timestamptz, close numeric(10, 6));"
        " create table aggregates.agg_other (day_start timestamptz, n bigint);"
        " insert into ops.export_manifest (table_name, window_start, window_end, row_count,"
        " object_key) values ('aggregates.agg_other', '2025-01-03', '2025-01-04', 0,"
        " 'aggregates/agg_other/dt=2025-01-03/agg_other-2025-01-03.parquet')")
    found = by_name(catalog.tables(production, MODELS))
    assert [c.kind for c in found["raw_tap_things"].columns] == ["string", "timestamp"]
    assert found["agg_candles_1m"].prefix == "aggregates/agg_candles_1m"
    assert (found["agg_other"].grain, found["agg_other"].first_day) == ("day", date(2025, 1, 3))


TRADES = catalog.Table("raw_trades", "raw/trades", "hour", (
    layout.Column.of("trade_id", "uuid"), layout.Column.of("ts", "timestamp with time zone"),
    layout.Column.of("count", "numeric(18, 2)"),
    layout.Column.of("prices", "numeric(10, 6)[]")), date(2025, 1, 1))
MARKETS = catalog.Table("raw_markets", "raw/markets", "snapshot",
                        (layout.Column.of("market_ticker", "text"),))


def test_athena_uses_partition_projection():
    script = catalog.render("athena", [TRADES, MARKETS], "s3://bucket/kstore", "kstore")
    assert "CREATE DATABASE IF NOT EXISTS kstore;" in script
    assert ("CREATE EXTERNAL TABLE IF NOT EXISTS kstore.raw_trades (\n    `trade_id` string,\n"
            "    `ts` timestamp,\n    `count` decimal(18,2),\n    `prices` array<decimal(10,6)>\n)"
            "\nPARTITIONED BY (`dt` date, `hour` int)\nSTORED AS PARQUET\n"
            "LOCATION 's3://bucket/kstore/raw/trades/'") in script
    for option in ("'projection.enabled' = 'true'", "'projection.dt.type' = 'date'",
                   "'projection.dt.range' = '2025-01-01,NOW'", "'projection.hour.range' = '0,23'",
                   "'storage.location.template' = "
                   "'s3://bucket/kstore/raw/trades/dt=${dt}/hour=${hour}/'",
                   "'storage.location.template' = 's3://bucket/kstore/raw/markets/dt=${dt}/'"):
        assert option in script
    assert "MSCK REPAIR TABLE" not in script


def test_trino_and_spark_ddl():
    trino = catalog.render("trino", [TRADES], "s3://bucket/kstore")
    assert "SET SESSION hive.timestamp_precision = 'MICROSECONDS';" in trino
    assert "CREATE SCHEMA IF NOT EXISTS hive.kstore;" in trino
    assert ('"ts" timestamp(6),' in trino and '"dt" date,\n    "hour" integer\n)' in trino)
    assert "external_location = 's3://bucket/kstore/raw/trades'" in trino
    assert "partitioned_by = ARRAY['dt', 'hour']" in trino
    assert "CALL hive.system.sync_partition_metadata('kstore', 'raw_trades', 'FULL');" in trino
    spark = catalog.render("spark", [TRADES], "s3://bucket/kstore")
    assert "LOCATION 's3a://bucket/kstore/raw/trades';\nMSCK REPAIR TABLE raw_trades;" in spark
    assert "`prices` ARRAY<DECIMAL(10,6)>" in spark and "PARTITIONED BY (dt, hour)" in spark
    unwritten = replace(TRADES, written=False)  # no object yet: no partition scan to fail
    trino = catalog.render("trino", [unwritten], "s3://bucket/kstore")
    assert "-- raw_trades has no object yet: CALL hive.system.sync_partition_metadata(" \
        "'kstore', 'raw_trades', 'FULL') once it has one\nCREATE TABLE" in trino
    assert trino.count("CALL hive") == 1


def test_duckdb_views_read_an_exported_lake(lake_db):
    db, conn, settings = lake_db
    add_trades(conn, D0, 2 * HOUR, 300, markets=5)
    with Exporter(settings) as exporter:
        exporter.export(raw_dataset(conn, "trades"), closed_until=D0 + DAY)
    trades = [table for table in catalog.tables(conn, []) if table.name == "raw_trades"]
    con = duckdb.connect()
    con.execute(catalog.render("duckdb", trades, f"file://{exporter.lake.root}"))
    assert con.execute("select count(*), count(distinct hour) from raw_trades"
                       " where dt = '2025-01-01'").fetchone() == (300, 2)


def test_the_command_prints_ddl_and_fails_in_one_line(server, tmp_path):
    db = server.database("production")
    env = {"KSTORE_HOME": str(tmp_path / "home"), "KSTORE_DSN__PRODUCTION": db.dsn_as(EXPORTER),
           "KSTORE_LAKE__URL": "s3://bucket/kstore"}
    done = run_kstore("lake", "catalog", "--engine", "athena", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("CREATE EXTERNAL TABLE") == 12  # the catalog's lake tables
    env["KSTORE_DSN__PRODUCTION"] = "host=127.0.0.1 port=1 dbname=nothing connect_timeout=2"
    failed = run_kstore("lake", "catalog", "--engine", "spark", env=env)
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.startswith("kstore lake catalog: error: ")
    assert failed.stderr.count("\n") == 1
    bad = run_kstore("lake", "catalog", "--engine", "hive", env=env)
    assert bad.returncode == 2 and "invalid choice: 'hive'" in bad.stderr
