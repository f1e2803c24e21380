"""`kstore lake verify` and the rolling scrub (kstore.lake.verify, decision 0045) against real
production databases and real lakes: a temporary folder (file://) and a bucket on moto's S3
server. A deleted, truncated or replaced object is found, its window un-verified and
re-exported from production, and guarded retention keeps the window's partition until it is
verified again; retention also wants a verification newer than verified_within. A wrong lake
root (missing, a missing bucket, an empty folder) is no damage: no verdict, nothing written
(decision 0087).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import logging

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import run_kstore
from kstore import maintain
from kstore.lake import export, verify
from kstore.lake.destination import open_lake
from kstore.lake.export import Exporter
from kstore.lake.testing import S3Server, add_tickers
from kstore.lake.windows import raw_dataset
from kstore.settings import SettingsError

UTC = timezone.utc
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
OLD = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - 40 * DAY


@pytest.fixture(scope="module")
def s3():
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture(params=["file", "s3"])
def lake_db(request, server, tmp_path):
    """A fresh production (owner connection) with a day of tickers 40 days old (past their
    30-day retention), exported and verified to a file:// or S3 lake."""
    db = server.database("production")
    lake = {"url": f"file://{tmp_path}/lake"}
    if request.param == "s3":
        s3 = request.getfixturevalue("s3")
        lake = s3.lake_settings(f"s3://verify-{tmp_path.name.lower().replace('_', '-')}/lake")
    settings = server.settings(dsn={"production": db.dsn_as(export.EXPORTER)}, lake=lake)
    if request.param == "s3":
        s3.create_bucket(settings)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        add_tickers(conn, OLD, DAY, 240)
        # g1 merged tickers up to just past the day: the close rule ends windows there.
        conn.execute("insert into ops.dedup_cursors (gatherer_id, table_name, caught_up,"
                     " last_pull_at) values ('g1', 'tickers', true, %s)",
                     [OLD + DAY + 2 * timedelta(minutes=1)])
        with Exporter(settings) as exporter:
            report = exporter.export(raw_dataset(conn, "tickers"), closed_until=OLD + DAY)
        assert report.verified == 24, report.line()
        yield db, conn, settings


def key_of(conn, start: datetime) -> str:
    return conn.execute("select object_key from ops.export_manifest where table_name = 'tickers'"
                        " and window_start = %s", [start]).fetchone()[0]


def write(settings, key: str, content: bytes) -> None:
    lake = open_lake(settings)
    if hasattr(lake, "client"):
        lake.client.put_object(Bucket=lake.bucket, Key=lake.object_key(key), Body=content)
    else:
        (lake.root / key).write_bytes(content)


def read(settings, key: str) -> bytes:
    lake = open_lake(settings)
    if hasattr(lake, "client"):
        return lake.client.get_object(Bucket=lake.bucket, Key=lake.object_key(key))["Body"].read()
    return (lake.root / key).read_bytes()


def damage(settings, key: str, how: str) -> str:
    """Damage the object as an accident or a careless user would; returns what verify says."""
    if how == "delete":
        open_lake(settings).remove(key)
        return "missing"
    if how == "truncate":
        write(settings, key, read(settings, key)[:100])
        return "bytes, manifest"
    table = pa.table({"market_ticker": ["KXM-T1"], "ts": [OLD]})  # valid Parquet, 1 row
    sink = io.BytesIO()
    pq.write_table(table, sink)
    write(settings, key, sink.getvalue())
    return "1 rows, manifest 10"


def retention(db, conn) -> str:
    """One maintenance pass: whether the old day's tickers partition was kept or dropped."""
    maintain.run(db)
    left = conn.execute("select count(*) from kstore.tickers where ts >= %s and ts < %s",
                        [OLD, OLD + DAY]).fetchone()[0]
    return {240: "kept", 0: "dropped"}.get(left, f"{left} rows")


def lock(conn) -> None:
    """Another exporter holds the tickers dataset: a re-export cannot happen yet."""
    assert conn.execute("select pg_try_advisory_lock(hashtext('kstore export tickers'))"
                        ).fetchone()[0]


@pytest.mark.parametrize("how", ["delete", "truncate", "replace"])
def test_a_damaged_object_is_found_reexported_and_kept_by_retention_meanwhile(lake_db, how):
    db, conn, settings = lake_db
    key = key_of(conn, OLD + 3 * HOUR)
    said = damage(settings, key, how)
    lock(conn)

    found = verify.run(settings)
    health = conn.execute("select status, damaged, detail from ops.lake_health"
                          " where dataset = 'tickers'").fetchone()
    kept = retention(db, conn)

    conn.execute("select pg_advisory_unlock_all()")
    repaired = verify.run(settings)
    dropped = retention(db, conn)

    assert found.checked == 24 and [w.key for w, _ in found.damaged] == [key]
    assert said in found.damaged[0][1], found.damaged
    assert not found.ok and found.unrepaired[0][0] == key
    assert health[:2] == ("damaged", 1) and key in health[2] and "another exporter" in health[2]
    assert kept == "kept", "an unverified window keeps its partition"
    assert repaired.ok and repaired.repaired == [key], repaired.lines()
    assert dropped == "dropped", "verified again: the partition may go"
    assert conn.execute("select status from ops.lake_health where dataset = 'tickers'"
                        ).fetchone()[0] == "ok"
    assert verify.run(settings).damaged == [], "the re-exported object is whole"


def test_retention_wants_a_verification_newer_than_verified_within(lake_db):
    db, conn, settings = lake_db
    conn.execute("update ops.export_manifest set verified_at = now() - interval '8 days'")
    stale = conn.execute("select status, stale from ops.lake_health where dataset = 'tickers'"
                         ).fetchone()
    kept = retention(db, conn)
    scrub = verify.Scrub(settings.model_copy(update={"lake": settings.lake.model_copy(
        update={"scrub_objects": 5, "scrub_after": 86_400})}))
    first = scrub.maybe_run()
    assert scrub.maybe_run() is None, "not due again before scrub_interval"
    report = verify.run(settings, verified_before=datetime.now(UTC) - DAY)

    assert stale == ("stale", 24) and kept == "kept"
    assert first.checked == 5 and first.ok, "a pass reads scrub_objects objects"
    assert report.checked == 19, "the rest: everything verified longer than a day ago"
    assert retention(db, conn) == "dropped"


def test_what_production_no_longer_holds_stays_damaged_and_alerts(lake_db):
    db, conn, settings = lake_db
    assert retention(db, conn) == "dropped"
    key = key_of(conn, OLD + 5 * HOUR)
    open_lake(settings).remove(key)

    report = verify.run(settings, since=OLD + 4 * HOUR, verified_before=None)
    summary = conn.execute("select ops.lake_health_summary()").fetchone()[0]

    assert report.checked == 20, "--since: windows ending after it"
    assert report.unrepaired and report.unrepaired[0][0] == key
    assert "production holds 0 rows" in report.unrepaired[0][1]
    assert summary.startswith("lake DAMAGED: ") and key in summary
    assert "\n" not in summary


def cli_env(db, settings, tmp_path) -> dict[str, str]:
    """The environment of a `kstore` run against this production and lake."""
    env = {"KSTORE_HOME": str(tmp_path / "home"), "KSTORE_DSN__PRODUCTION": db.dsn_as(
        export.EXPORTER), "KSTORE_PG_BIN": str(settings.pg_bin or "")}
    return env | {f"KSTORE_LAKE__{name.upper()}": str(value).lower() if isinstance(value, bool)
                  else str(value) for name, value in settings.lake.model_dump().items()
                  if value is not None and name not in ("glacier_class",)}


def test_kstore_lake_verify_exits_1_while_damage_remains(lake_db, tmp_path):
    db, conn, settings = lake_db
    env = cli_env(db, settings, tmp_path)
    clean = run_kstore("lake", "verify", "--table", "tickers", env=env)
    open_lake(settings).remove(key_of(conn, OLD))
    lock(conn)
    damaged = run_kstore("lake", "verify", "--since", "2000-01-01", env=env)
    bad = run_kstore("lake", "verify", "--since", "yesterday", env=env)
    conn.execute("select pg_advisory_unlock_all()")

    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("verified 24 of 24 object(s); 0 damaged")
    assert damaged.returncode == 1 and "NOT repaired" in damaged.stdout
    assert "lake DAMAGED" in damaged.stdout.splitlines()[-1]
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "--since" in bad.stderr


def elsewhere(settings, tmp_path, where: str):
    """The settings with lake.url pointing at the wrong root: `missing` (no such folder, no such
    bucket) or `empty` (an existing empty folder, an empty prefix of the lake's own bucket)."""
    url = settings.lake.url
    if url.startswith("s3://"):
        bucket = url.split("/")[2]
        url = f"s3://nosuch-{bucket}/lake" if where == "missing" else f"s3://{bucket}/lakee"
    else:
        url = f"file://{tmp_path}/{'nosuch/lake' if where == 'missing' else 'empty'}"
        if where == "empty":
            (tmp_path / "empty").mkdir()
    return settings.model_copy(update={"lake": settings.lake.model_copy(update={"url": url})})


def manifest_rows(conn) -> list[tuple]:
    return conn.execute("select table_name, window_start, object_key, verified_at, damage,"
                        " checksum from ops.export_manifest order by 1, 2").fetchall()


@pytest.mark.parametrize("where", ["missing", "empty"])
def test_a_wrong_lake_root_gives_no_verdict_and_writes_nothing(lake_db, tmp_path, where, caplog):
    db, conn, settings = lake_db
    before = manifest_rows(conn)
    wrong = elsewhere(settings, tmp_path, where)
    with pytest.raises(SettingsError) as refused:
        verify.run(wrong)
    scrub = verify.Scrub(wrong.model_copy(update={"lake": wrong.lake.model_copy(
        update={"scrub_after": 0})}))
    with caplog.at_level(logging.WARNING, logger="kstore.lake.verify"):
        scrubbed = scrub.maybe_run()

    said = {"missing": "does not exist", "empty": "holds no object, but the manifest lists 24"}
    assert said[where] in str(refused.value) and "check lake.url" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert scrubbed is None and "scrub: no verdict on any object" in caplog.text
    assert manifest_rows(conn) == before, "no verdict, no repair: the manifest is untouched"
    assert not (tmp_path / "nosuch").exists(), "nothing written where the lake is not"
    if where == "empty":
        assert open_lake(wrong).keys("") == [], "the empty root stays empty"
    assert verify.run(settings).damaged == [], "the right root: every object still whole"


def test_kstore_lake_verify_refuses_a_wrong_root_and_an_unknown_table(lake_db, tmp_path):
    db, conn, settings = lake_db
    before = manifest_rows(conn)
    wrong = run_kstore("lake", "verify", env=cli_env(
        db, elsewhere(settings, tmp_path, "missing"), tmp_path))
    unknown = run_kstore("lake", "verify", "--table", "nosuch",
                         env=cli_env(db, settings, tmp_path))

    assert wrong.returncode == 1 and wrong.stdout == "", wrong.stdout
    assert wrong.stderr.count("\n") == 1 and "does not exist" in wrong.stderr, wrong.stderr
    assert unknown.returncode == 1 and unknown.stdout == "", unknown.stdout
    assert unknown.stderr.count("\n") == 1 and "'nosuch': no such dataset" in unknown.stderr
    assert "tickers" in unknown.stderr, "it names the known datasets"
    assert manifest_rows(conn) == before
