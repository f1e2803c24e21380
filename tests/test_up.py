"""`kstore up` end to end: simulator, three gatherers, deduplicator, supervised, with faults,
then `kstore audit --target production` demands exactness (the platform's own check), and the
lake's done-when: `kstore export --once && kstore transform && kstore query "select count(*)
from raw_trades"` equals production's trade count, the current hour included (decision 0015)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from conftest import PG_BIN, run_kstore


@pytest.fixture
def embedded(storage):
    """An empty home for the embedded topology on each storage path (TimescaleDB where the
    server has it: `on` so that a plain fallback cannot pass for it)."""
    home = Path(tempfile.mkdtemp(prefix="kstore-up-"))
    home.chmod(0o755)  # as root, the postgres user must be able to reach the clusters
    env = {"KSTORE_HOME": str(home), "KSTORE_PG_BIN": str(PG_BIN),
           "KSTORE_TIMESCALEDB": "on" if storage == "timescaledb" else "off"}
    yield env, home
    run_kstore("db", "down", env=env)
    shutil.rmtree(home, ignore_errors=True)


def test_up_with_faults_merges_exactly_the_truth(embedded):
    env, home = embedded
    truth = home / "t.jsonl"
    up = run_kstore("up", "--seed", "7", "--duration", "15", "--rate", "300", "--truth",
                    str(truth), "--faults", "gaps,disconnects,malformed",
                    "--disconnect-every", "5", env=env, timeout=240)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "every gatherer flushed and merged" in up.stdout

    audit = run_kstore("audit", "--truth", str(truth), "--target", "production", env=env)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    simulator_log = (home / "logs" / "simulator.log").read_text()
    assert "'disconnects': 0" not in simulator_log and "'dropped': 0" not in simulator_log

    for step in (["export", "--once"], ["transform"]):
        done = run_kstore(*step, env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    query = run_kstore("query", "select count(*) as n from raw_trades", "--format", "csv",
                       env=env)
    assert query.returncode == 0, query.stdout + query.stderr
    port = json.loads((home / "topology.json").read_text())["clusters"]["production"]["port"]
    with psycopg.connect(f"host=127.0.0.1 port={port} dbname=production user=postgres") as conn:
        trades = conn.execute("select count(*) from kstore.trades").fetchone()[0]
    assert trades > 0 and query.stdout.split() == ["n", str(trades)], \
        "the lake holds exactly production's trades, though the hour has not ended"
