"""The lake read by other engines through `kstore lake catalog`'s DDL (kstore.lake.catalog):
local PySpark runs the generated Spark DDL and counts every dataset; pyarrow, polars and plain
DuckDB read every column with its logical type; the README's lake examples run on DuckDB and
Spark. One production database is seeded like tests/test_transform.py, built by dbt and
exported (raw, processed, aggregates: every dataset), once per module.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest
from test_transform import seed

from conftest import REPO_ROOT
from kstore import transform
from kstore.lake import catalog, export
from kstore.lake.destination import open_lake
from kstore.settings import Settings, lake_url


@dataclass
class Lake:
    conn: psycopg.Connection
    settings: Settings
    tables: list[catalog.Table]
    counts: dict[str, int]  # rows the manifest's verified windows hold, per table name


@pytest.fixture(scope="module", params=["plain", "timescaledb"])
def lake(request, tmp_path_factory) -> Lake:
    server = request.getfixturevalue(f"{request.param}_server")
    db = server.database("production")
    root = tmp_path_factory.mktemp("lake")
    settings = server.settings(dsn={"production": db.dsn_as(export.EXPORTER)},
                               lake={"url": f"file://{root}/lake"})
    conn = psycopg.connect(db.dsn, autocommit=True)
    seed(conn)
    known_earlier(conn)
    assert transform.run(settings, db).ok  # builds and exports processed/ and aggregates/
    reports = export.cycle(settings)
    assert reports and not any(report.failed for report in reports)
    tables = catalog.tables(conn, transform.lake_models(settings))
    counts = dict(conn.execute(
        "select table_name, sum(row_count) from ops.export_manifest where verified_at is not"
        " null group by 1").fetchall())
    names = {t.prefix: t.name for t in tables}
    by_name = {names[f"raw/{k}" if "." not in k else k.replace(".", "/")]: int(v)
               for k, v in counts.items()}
    yield Lake(conn, settings, tables, by_name)
    conn.close()


def known_earlier(conn: psycopg.Connection) -> None:
    """Every lake dataset holds rows: the reference data was known two days ago (so that day's
    snapshot is due, decision 0046), a feed gap and a reconciliation were recorded then."""
    for table in ("series_history", "events_history", "markets_history"):
        conn.execute(f"update kstore.{table} set recorded_at = recorded_at - interval '2 days'")
    conn.execute(
        "insert into kstore.feed_gaps (gatherer_id, gap_id, connection_id, sid, channel,"
        " expected_seq, received_seq, detected_at, cause, market_ticker) values ('g1', 1, 'c1',"
        " 1, 'orderbook_delta', 10, 13, now() - interval '2 days', 'seq_jump', 'KXM-T1')")
    run = conn.execute("insert into ops.reconciliation_runs (since, until) values (now() -"
                       " interval '3 days', now() - interval '2 days') returning run_id").fetchone()
    conn.execute(
        "insert into ops.reconciliation (hour, market_ticker, exchange_trades, production_trades,"
        " missing, unexpected, duplicated, run_id, checked_at) values (date_trunc('hour', now()"
        " - interval '3 days'), 'KXM-T1', 1, 1, 0, 0, 0, %s, now() - interval '2 days')", run)


def production_rows(conn: psycopg.Connection, table: catalog.Table) -> int:
    """What production holds for a dataset (a raw snapshot: the current rows)."""
    layer, name = table.prefix.split("/", 1)
    schema = ("ops" if name == "reconciliation" else "kstore") if layer == "raw" else layer
    return conn.execute(f'select count(*) from {schema}."{name}"').fetchone()[0]


def test_every_dataset_is_in_the_catalog(lake):
    names = {table.name for table in lake.tables}
    assert {"raw_trades", "raw_orderbook_deltas", "raw_orderbook_snapshots", "raw_tickers",
            "raw_series", "raw_events", "raw_markets", "prc_trades", "prc_orderbook_deltas",
            "prc_orderbook_snapshots", "agg_candles_1m", "agg_candles_1h", "agg_candles_1d",
            "agg_market_daily", "agg_series_activity_1h"} <= names
    for table in lake.tables:  # everything exported, and exported whole
        assert lake.counts[table.name] == production_rows(lake.conn, table) > 0, table.name


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    if shutil.which("java") is None:
        pytest.skip("Java is not installed: PySpark cannot start (install a JDK 17)")
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (SparkSession.builder.master("local[1]").appName("kstore-test")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.warehouse.dir", str(warehouse))
               .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def statements(script: str) -> list[str]:
    """The statements of a generated script split at every `;`, comments kept: what the README
    tells a PySpark user to do."""
    return [part.strip() for part in script.split(";") if part.strip()]


def code(statement: str) -> str:
    return "\n".join(line for line in statement.splitlines() if not line.startswith("--"))


def spark_session_with(spark, lake: Lake, schema: str):
    script = catalog.render("spark", lake.tables, lake_url(lake.settings), schema)
    for statement in statements(script):
        spark.sql(statement.rstrip(";"))
    return spark


def test_spark_reads_every_dataset_through_the_generated_ddl(lake, spark, request):
    schema = f"kstore_{request.node.callspec.id.split('-')[0]}"
    spark_session_with(spark, lake, schema)
    for table in lake.tables:
        frame = spark.sql(f"select * from {schema}.{table.name}")
        assert frame.count() == lake.counts[table.name], table.name
        row = frame.first()  # every column decodes
        assert row is not None
    types = dict(spark.table(f"{schema}.raw_trades").dtypes)
    assert (types["trade_id"], types["ts"], types["yes_price"], types["dt"], types["hour"]) == (
        "string", "timestamp", "decimal(10,6)", "date", "int")


ARROW = {"string": "string", "bigint": "int64", "int": "int32", "smallint": "int16",
         "boolean": "bool", "double": "double", "float": "float", "date": "date32[day]",
         "timestamp": "timestamp[us, tz=UTC]", "binary": "binary"}


def arrow_type(kind: str) -> str:
    if kind.startswith("array<"):
        return f"list<element: {arrow_type(kind[6:-1])}>"
    decimal = re.match(r"decimal\((\d+),(\d+)\)", kind)
    return f"decimal128({decimal[1]}, {decimal[2]})" if decimal else ARROW[kind]


def folder(lake: Lake, table: catalog.Table) -> Path:
    return Path(open_lake(lake.settings).uri(table.prefix))


def test_pyarrow_reads_every_column_with_its_logical_type(lake):
    import pyarrow.dataset as ds

    for table in lake.tables:
        data = ds.dataset(folder(lake, table), format="parquet", partitioning="hive")
        found = {field.name: str(field.type) for field in data.schema}
        for column in table.columns:
            found_type = found[column.name].replace("list<item: ", "list<element: ")
            assert found_type == arrow_type(column.kind), (table.name, column.name)
        assert data.count_rows() == lake.counts[table.name]


def test_polars_reads_every_column_with_its_logical_type(lake):
    import polars as pl

    for table in lake.tables:
        frame = pl.scan_parquet(f"{folder(lake, table)}/**/*.parquet", hive_partitioning=True)
        schema = frame.collect_schema()
        assert schema["dt"] == pl.Date, table.name
        if table.grain == "hour":
            assert schema["hour"].is_integer(), table.name
        for column in table.columns:
            kind = schema[column.name]
            if column.kind == "timestamp":
                assert kind == pl.Datetime("us", "UTC"), (table.name, column.name)
            elif column.kind.startswith("decimal"):
                assert isinstance(kind, pl.Decimal), (table.name, column.name)
            elif column.kind == "string":
                assert kind == pl.String, (table.name, column.name)
        assert frame.select(pl.len()).collect().item() == lake.counts[table.name]


def test_plain_duckdb_types_the_partitions_itself(lake):
    """Without hive_types: dt is a DATE and hour an integer (layout 1 gave VARCHAR '01')."""
    con = duckdb.connect()
    trades = folder(lake, next(t for t in lake.tables if t.name == "raw_trades"))
    types = dict(con.execute(
        "select column_name, column_type from (describe select * from read_parquet(?,"
        " hive_partitioning = true))", [f"{trades}/*/*/*.parquet"]).fetchall())
    assert (types["dt"], types["hour"], types["trade_id"]) == ("DATE", "BIGINT", "VARCHAR")


def readme_lake_query() -> str:
    """The query the README runs on every engine (the block after `<!-- lake-query -->`)."""
    text = (REPO_ROOT / "README.md").read_text()
    found = re.search(r"<!-- lake-query -->\s*```sql\n(.*?)```", text, re.S)
    assert found, "README.md shows the lake query after <!-- lake-query -->"
    return found.group(1).strip().rstrip(";")


def test_readme_lake_query_runs_on_duckdb_and_spark(lake, spark, request):
    query = readme_lake_query()
    con = duckdb.connect()
    con.execute(catalog.render("duckdb", lake.tables, lake_url(lake.settings)))
    on_duckdb = [tuple(row) for row in con.execute(query).fetchall()]
    schema = f"kstore_readme_{request.node.callspec.id.split('-')[0]}"
    spark_session_with(spark, lake, schema)
    spark.catalog.setCurrentDatabase(schema)
    on_spark = [tuple(row) for row in spark.sql(query).collect()]
    assert on_duckdb and on_duckdb == on_spark
    assert all(isinstance(row[-1], Decimal) for row in on_duckdb), "contracts stay decimal"


def test_a_new_lake_runs_every_script_whole(plain_server, spark, tmp_path):
    """Before the exporter wrote anything (or while reconciliation has found nothing), every
    dataset is still declared and reads as empty, with its columns: the DuckDB and Spark
    scripts run to the end (read_parquet refuses a folder without files, MSCK REPAIR a missing
    folder)."""
    db = plain_server.database("production")
    with psycopg.connect(db.dsn) as conn:
        tables = catalog.tables(conn, [])
    assert tables and not any(table.written for table in tables)
    root = f"file://{tmp_path}/lake"
    script = catalog.render("duckdb", tables, root)
    assert "-- raw_reconciliation has no object yet: run this script again" in script
    con = duckdb.connect()
    con.execute(script)
    trades = dict(con.execute("select column_name, column_type from (describe raw_trades)")
                  .fetchall())
    assert (trades["trade_id"], trades["ts"], trades["yes_price"], trades["dt"],
            trades["hour"]) == ("VARCHAR", "TIMESTAMP WITH TIME ZONE", "DECIMAL(10,6)", "DATE",
                                "INTEGER")
    spark_script = catalog.render("spark", tables, root, "kstore_new")
    assert not any("MSCK" in code(statement) for statement in statements(spark_script))
    for statement in statements(spark_script):
        spark.sql(statement.rstrip(";"))
    for table in tables:
        assert con.execute(f"select count(*) from {table.name}").fetchone() == (0,), table.name
        assert spark.sql(f"select * from kstore_new.{table.name}").count() == 0, table.name
    assert dict(spark.table("kstore_new.raw_trades").dtypes)["trade_id"] == "string"
