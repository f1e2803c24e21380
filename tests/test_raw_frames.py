"""Raw frames in the lake: `kstore journal export` copies closed journal hours to
raw/frames, verified by read-back, and deletes a segment only after its copy is verified
(decision 0080)."""

from __future__ import annotations

import asyncio
import json
import re
from types import SimpleNamespace
from collections import Counter
from datetime import timedelta

import psycopg
from psycopg.types.json import Jsonb
import pytest

from conftest import REPO_ROOT, run_kstore
from kstore import roles
from kstore.gatherer.run import Gatherer
from kstore.journal import reader, recovery
from kstore.journal.export import FrameExporter, dataset_name
from kstore.journal.format import journal_dir, segments
from kstore.journal.writer import Writer
from kstore.lake import query
from kstore.lake.destination import open_lake
from kstore.lake.testing import S3Server
from test_recovery import simulate

WRITER = roles.GATHERER_WRITER


@pytest.fixture
def captured(plain_server, tmp_path):
    """A gatherer run with its journal; settings that also reach a fresh production (as the
    exporter) and a file:// lake; the owner's production DSN."""
    ts, rel = plain_server.database("gatherer_ts"), plain_server.database("gatherer_rel")
    production = plain_server.database("production")
    with simulate(tmp_path, faults="duplicates,malformed", rate=500) as sim:
        settings = plain_server.settings(
            gatherers=["g1"], dsn={"g1_ts": ts.dsn_as(WRITER), "g1_rel": rel.dsn_as(WRITER),
                                   "production": production.dsn_as(roles.EXPORTER)},
            kalshi={"ws_url": sim.ws_url, "rest_url": sim.rest_url},
            lake={"url": f"file://{tmp_path}/lake"},
            gather={"status_interval": 1, "snapshot_interval": 3600, "registry_interval": 3600,
                    "journal": {"directory": str(tmp_path / "journal")}})
        asyncio.run(Gatherer(settings, "g1").run(4))
    return settings, production.dsn


def later_run(directory, at) -> str:
    """One frame journaled by a later gatherer process at `at`: the journal's newest segment
    (never deleted: the next sequence number is read from it). Its name."""
    writer = Writer(directory, recovery.next_free(directory))
    writer.append(SimpleNamespace(received_at=at, raw=b"{}", connection_id="later",
                                  use_yes_price=False))
    writer.close()
    return segments(directory)[-1].path.name


def manifest_rows(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select window_start, row_count, verified_at is not null, object_key, checksum"
            " from ops.export_manifest where table_name = %s order by window_start",
            [dataset_name("g1")]).fetchall()


def body(raw: bytes) -> dict:
    """The `msg` object of a frame's JSON ({} for a malformed frame)."""
    try:
        message = json.loads(bytes(raw))
    except ValueError:
        return {}
    found = message.get("msg") if isinstance(message, dict) else None
    return found if isinstance(found, dict) else {}


def test_raw_frames_exported_verified_byte_identical_then_segments_deleted(captured, tmp_path):
    settings, dsn = captured
    directory = journal_dir(settings, "g1")
    journal = {r.seq: r for r in reader.records(directory)}
    hours = sorted({s.hour for s in segments(directory)})
    later = hours[-1] + timedelta(hours=2)
    assert len(journal) > 300
    newest = later_run(directory, later)

    # An hour still open is neither exported nor deleted.
    report = FrameExporter(settings, "g1").run(now=hours[0] + timedelta(minutes=30))
    assert report.hours == [] and report.deleted == [] and segments(directory)

    report = FrameExporter(settings, "g1").run(now=later)
    assert not report.failed and [h.hour for h in report.hours] == hours
    assert sum(h.rows for h in report.hours) == len(journal)
    recorded = manifest_rows(dsn)
    assert [(start, verified) for start, _, verified, _, _ in recorded] == \
        [(hour, True) for hour in hours]
    assert all(key.startswith("raw/frames/gatherer=g1/") for *_, key, _ in recorded)
    assert [s.path.name for s in segments(directory)] == [newest], \
        "verified hours' segments are deleted, the newest segment stays"

    con, catalog = query.connect(settings)
    assert "raw_frames" in catalog.views
    lake = con.execute("select seq, received_at, connection_id, is_binary, use_yes_price, raw, sid,"
                       " type, market_ticker, gatherer from raw_frames order by seq").fetchall()
    assert [row[0] for row in lake] == sorted(journal), "every frame, once"
    for seq, received_at, conn_id, binary, yes_price, raw, *_, gatherer in lake:
        record = journal[seq]
        assert (received_at, conn_id, binary, yes_price, bytes(raw), gatherer) == \
            (record.received_at, record.connection_id, record.binary, record.use_yes_price,
             record.raw, "g1")
    readme = re.search(r'kstore query "(select type, count\(\*\).*?from raw_frames.*?)"',
                       (REPO_ROOT / "README.md").read_text()).group(1)
    _, per_type = query.run(con, readme)  # the README's example, on this exported hour
    assert sum(count for _, count, _ in per_type) == len(journal)

    # What the simulator sent: every trade of its truth is in a lake frame, wire strings exact.
    truth = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    sent = Counter((t["trade_id"], t["market_ticker"], t["yes_price_dollars"], t["count_fp"])
                   for t in truth if t["table"] == "trades")
    bodies = [(kind, ticker, body(raw)) for *_, raw, sid, kind, ticker, _ in lake]
    seen = Counter((b["trade_id"], b["market_ticker"], b["yes_price_dollars"], b["count_fp"])
                   for kind, _, b in bodies if kind == "trade" and "trade_id" in b)
    assert sent and set(sent) == set(seen), "malformed and duplicate frames aside"
    assert all(ticker == b.get("market_ticker") for kind, ticker, b in bodies
               if kind in ("trade", "ticker", "orderbook_delta"))

    again = FrameExporter(settings, "g1").run(now=later)
    assert again.hours == [] and manifest_rows(dsn) == recorded, "verified hours stay as they are"


def test_a_failed_verification_keeps_the_segments(captured):
    settings, dsn = captured
    directory = journal_dir(settings, "g1")
    later = max(s.hour for s in segments(directory)) + timedelta(hours=2)
    newest = later_run(directory, later)
    before = segments(directory)
    lake = open_lake(settings)

    def truncate(key: str) -> None:
        path = lake.root / key
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    report = FrameExporter(settings, "g1", after_write=truncate).run(now=later)
    assert report.failed and all("unreadable" in h.reason for h in report.failed)
    assert report.deleted == [] and segments(directory) == before, "unverified: kept"
    assert all(not verified for _, _, verified, _, _ in manifest_rows(dsn))

    kept = FrameExporter(settings, "g1").run(now=later, keep=True)
    assert not kept.failed and segments(directory) == before, "--keep never deletes"
    assert all(verified for _, _, verified, _, _ in manifest_rows(dsn))

    # Frames above the checkpoint of a gatherer that crashed (recovery still to run) keep their
    # segment.
    with psycopg.connect(settings.dsn["g1_ts"], autocommit=True) as conn:
        saved = conn.execute("select seq, state from ops.journal_checkpoints").fetchone()
        conn.execute("update ops.journal_checkpoints set seq = seq - 5, state = state - 'clean'")
    kept = FrameExporter(settings, "g1").run(now=later)
    assert kept.deleted == [] and kept.kept is None and segments(directory) == before
    broken = settings.model_copy(deep=True)
    broken.dsn["g1_ts"] = "postgresql://nobody@127.0.0.1:1/none"
    unreadable = FrameExporter(broken, "g1").run(now=later)
    assert unreadable.deleted == [] and "checkpoint unreadable" in unreadable.kept
    assert segments(directory) == before

    with psycopg.connect(settings.dsn["g1_ts"], autocommit=True) as conn:
        conn.execute("update ops.journal_checkpoints set seq = %s, state = %s",
                     [saved[0], Jsonb(saved[1])])
    gone = FrameExporter(settings, "g1").run(now=later).deleted
    assert gone == [s.path.name for s in before if s.path.name != newest]


def test_raw_frames_on_an_s3_lake(captured, plain_server):
    settings, dsn = captured
    directory = journal_dir(settings, "g1")
    journal = {r.seq: r.raw for r in reader.records(directory)}
    later = max(s.hour for s in segments(directory)) + timedelta(hours=2)
    newest = later_run(directory, later)
    server = S3Server().start()
    try:
        on_s3 = plain_server.settings(lake=server.lake_settings("s3://frames/kstore"))
        server.create_bucket(on_s3)
        report = FrameExporter(settings, "g1", lake=open_lake(on_s3)).run(now=later)
        assert not report.failed and report.hours
        assert [s.path.name for s in segments(directory)] == [newest]
        assert all(key.startswith("raw/frames/gatherer=g1/") for *_, key, _ in manifest_rows(dsn))
        con, _ = query.connect(on_s3)
        lake = dict(con.execute("select seq, raw from raw_frames order by seq").fetchall())
        assert {seq: bytes(raw) for seq, raw in lake.items()} == journal
    finally:
        server.stop()


def test_journal_export_refuses_bad_input_in_one_line(tmp_path):
    done = run_kstore("journal", "export", "--gatherer", "g9",
                      env={"KSTORE_HOME": str(tmp_path / "home"), "KSTORE_GATHERERS": '["g1"]'})
    assert done.returncode != 0 and done.stderr.count("\n") == 1, done.stderr
    assert "unknown gatherer" in done.stderr and "Traceback" not in done.stderr
    done = run_kstore("journal", "export", env={"KSTORE_HOME": str(tmp_path / "home")})
    assert done.returncode != 0 and done.stderr.count("\n") == 1, done.stderr
    assert "no journal" in done.stderr and "Traceback" not in done.stderr
