"""Replay from the journal: a recorded hour (journal hour, segment or raw/frames object)
replayed into a fresh gatherer makes that hour's rows exactly (decision 0081)."""

from __future__ import annotations

import asyncio
from collections import Counter
import time
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from kstore import roles
from kstore.gatherer.rows import TABLE_COLUMNS
from kstore.gatherer.run import Gatherer
from kstore.journal import reader
from kstore.journal.export import FrameExporter
from kstore.journal.format import journal_dir, segments
from kstore.simulator import ReplayFileError, SimulatorOptions, SimulatorThread
from kstore.simulator import replay_journal

WRITER = roles.GATHERER_WRITER
# Made by the receiving connection, not by the frame: a replay receives at other times on
# other connections. A WebSocket book's captured_at is its receive time (the snapshot frame
# carries no exchange time). Every other column of every row must be equal.
PER_CONNECTION = {"received_at", "connection_id"}
RECEIVE_TIME = {"orderbook_snapshots": {"captured_at"}}


def rows(dsn: str) -> dict[str, Counter]:
    """Every row the frames make, per table, without the per-connection columns (REST books
    aside: they are not frames)."""
    found = {}
    with psycopg.connect(dsn) as conn:
        for table, columns in TABLE_COLUMNS.items():
            skip = PER_CONNECTION | RECEIVE_TIME.get(table, set())
            listed = ", ".join(c for c in columns if c not in skip)
            where = " where source = 'ws'" if table == "orderbook_snapshots" else ""
            found[table] = Counter(tuple(tuple(v) if isinstance(v, list) else v for v in row)
                                   for row in conn.execute(
                                       f"select {listed} from kstore.{table}{where}"))
        found["gaps"] = Counter(conn.execute(
            "select sid, expected_seq, received_seq from kstore.feed_gaps"
            " where cause = 'seq_jump'"))
    return found


def gather(server, sim_options: dict, journal, seconds: float):
    """A gatherer g1 on fresh databases fed by a simulator (or a replay) with `sim_options`;
    its ts DSN (owner) and settings."""
    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    production = server.database("production")
    with SimulatorThread(SimulatorOptions(**sim_options)) as sim:
        settings = server.settings(
            gatherers=["g1"], dsn={"g1_ts": ts.dsn_as(WRITER), "g1_rel": rel.dsn_as(WRITER),
                                   "production": production.dsn_as(roles.EXPORTER)},
            kalshi={"ws_url": sim.ws_url, "rest_url": sim.rest_url},
            lake={"url": f"file://{journal.parent}/lake"},
            gather={"status_interval": 1, "snapshot_interval": 3600, "registry_interval": 3600,
                    "journal": {"directory": str(journal)}})
        asyncio.run(Gatherer(settings, "g1").run(seconds))
    return ts.dsn, settings


@pytest.fixture
def recorded(plain_server, tmp_path):
    """A live run with duplicates, malformed frames and disconnects, journaled within one
    UTC hour: its rows and settings."""
    now = datetime.now(timezone.utc)
    to_next_hour = 3600 - (now.minute * 60 + now.second + now.microsecond / 1e6)
    if to_next_hour < 30:
        time.sleep(to_next_hour + 1)
    options = dict(port=0, seed=11, markets=8, rate=500, duration=4, ping_interval=None,
                   lifecycle_rate=0.5, faults="duplicates,malformed,disconnects",
                   disconnect_every=1.5)
    dsn, settings = gather(plain_server, options, tmp_path / "live", 4)
    return rows(dsn), settings


def replay(server, path, tmp_path, name: str) -> dict[str, Counter]:
    options = dict(port=0, replay=path, replay_speed=0, ping_interval=None)
    dsn, _ = gather(server, options, tmp_path / name, 4)
    return rows(dsn)


def test_a_journal_hour_replayed_into_a_fresh_gatherer_makes_the_same_rows(
        recorded, plain_server, tmp_path):
    live, settings = recorded
    directory = journal_dir(settings, "g1")
    found = segments(directory)
    assert live["orderbook_deltas"] and live["trades"] and live["quarantine"]
    assert len(found) == 1, "one process, one hour: one segment"
    assert len({r.connection_id for r in reader.records(directory)}) > 1, "reconnects replayed"
    hour = found[0].hour
    assert replay(plain_server, directory / f"{hour:%Y-%m-%dT%H}", tmp_path, "from-hour") == live
    assert replay(plain_server, found[0].path, tmp_path, "from-segment") == live

    report = FrameExporter(settings, "g1").run(now=hour + timedelta(hours=2), keep=True)
    assert not report.failed
    objects = sorted(tmp_path.glob("lake/raw/frames/gatherer=g1/**/*.parquet"))
    assert len(objects) == 1
    assert replay(plain_server, objects[0], tmp_path, "from-lake") == live


def test_a_bad_journal_input_is_refused_in_one_line(tmp_path):
    empty = tmp_path / "journal"
    empty.mkdir()
    with pytest.raises(ReplayFileError, match="no frames"):
        replay_journal.load(empty / "2026-01-01T00")
    (tmp_path / "x.parquet").write_bytes(b"not parquet")
    with pytest.raises(ReplayFileError, match="replay object"):
        replay_journal.load(tmp_path / "x.parquet")
