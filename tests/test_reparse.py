"""`kstore reparse`: a gatherer's rows for a window rebuilt from its journal, idempotently
(decision 0037)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from conftest import run_kstore
from kstore import audit, reparse, roles
from kstore.gatherer.run import Gatherer
from kstore.settings import SettingsError
from test_recovery import rows, simulate

WRITER = roles.GATHERER_WRITER
TABLES = ("trades", "orderbook_deltas", "tickers", "orderbook_snapshots", "quarantine")


@pytest.fixture
def captured(server, tmp_path):
    """A gatherer run (twin deltas, duplicates, bad frames) with its journal: settings, the
    owner's ts DSN, and the run's first and last receive times."""
    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    with simulate(tmp_path, faults="duplicates,malformed", rate=600,
                  malformed_probability=0.03) as sim:
        settings = server.settings(
            gatherers=["g1"], dsn={"g1_ts": ts.dsn_as(WRITER), "g1_rel": rel.dsn_as(WRITER)},
            kalshi={"ws_url": sim.ws_url, "rest_url": sim.rest_url},
            gather={"status_interval": 1, "snapshot_interval": 3600, "registry_interval": 3600,
                    "journal": {"directory": str(tmp_path / "journal")}})
        asyncio.run(Gatherer(settings, "g1").run(5))
    with psycopg.connect(ts.dsn) as conn:
        first, last = conn.execute("select min(received_at), max(received_at)"
                                   " from kstore.orderbook_deltas").fetchone()
    return settings, ts.dsn, first, last


def test_reparse_restores_deleted_rows_exactly_and_twice_adds_nothing(captured, tmp_path):
    settings, dsn, first, last = captured
    whole = reparse.run(settings, "g1", first - timedelta(minutes=1), last + timedelta(minutes=1))
    assert whole["frames"] > 300 and whole["rows_added"] == whole["quarantined"] == 0, \
        "the journal holds nothing the database lacks"
    before = rows(dsn)
    clean = audit.audit(settings, audit.load_truth(tmp_path / "t.jsonl"), "g1")
    since, until = first + (last - first) / 3, first + 2 * (last - first) / 3
    with psycopg.connect(dsn) as conn:
        deleted = {table: conn.execute(  # REST books are not frames: not in the journal
            f"delete from kstore.{table} where received_at >= %s and received_at < %s"
            + (" and source = 'ws'" if table == "orderbook_snapshots" else ""),
            [since, until]).rowcount for table in TABLES}
    assert deleted["orderbook_deltas"] > 30 and deleted["quarantine"] > 0
    assert rows(dsn) != before

    first_run = reparse.run(settings, "g1", since, until)
    assert first_run["rows_added"] == sum(n for t, n in deleted.items() if t != "quarantine")
    assert first_run["rows"]["orderbook_deltas"] == deleted["orderbook_deltas"]
    assert first_run["quarantined"] == deleted["quarantine"]
    assert first_run["warm_frames"] > 0, "the lookback rebuilt dup ordinals and seq checks"
    assert rows(dsn) == before, "every column of every row, dup ordinals included"
    assert audit.audit(settings, audit.load_truth(tmp_path / "t.jsonl"), "g1") == clean

    env = {"KSTORE_GATHERERS": '["g1"]', "KSTORE_DSN__G1_TS": settings.dsn["g1_ts"],
           "KSTORE_DSN__G1_REL": settings.dsn["g1_rel"], "KSTORE_HOME": str(settings.home),
           "KSTORE_GATHER__JOURNAL__DIRECTORY": str(settings.gather.journal.directory)}
    done = run_kstore("reparse", "--gatherer", "g1", "--since", since.isoformat(),
                      "--until", until.isoformat(), "--json", env=env)
    assert done.returncode == 0, done.stderr
    second_run = json.loads(done.stdout)
    assert second_run["frames"] == first_run["frames"]
    assert second_run["rows_added"] == second_run["quarantined"] == second_run["gaps"] == 0
    assert rows(dsn) == before


def test_reparse_refuses_bad_input_in_one_line(plain_server, tmp_path):
    settings = plain_server.settings(gatherers=["g1"],
                               gather={"journal": {"directory": str(tmp_path / "none")}})
    now = datetime.now(timezone.utc)
    with pytest.raises(SettingsError, match="no journal segments"):
        reparse.run(settings, "g1", now - timedelta(hours=1), now)
    with pytest.raises(SettingsError, match="before --until"):
        reparse.run(settings, "g1", now, now)
    with pytest.raises(SettingsError, match="unknown gatherer"):
        reparse.run(settings, "g9", now - timedelta(hours=1), now)
    env = {"KSTORE_HOME": str(tmp_path / "home")}
    for args in (["--since", "yesterday", "--until", "2026-01-01"],
                 ["--since", "2026-01-02", "--until", "2026-01-01"]):
        done = run_kstore("reparse", "--gatherer", "g1", *args, env=env)
        assert done.returncode != 0 and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr
