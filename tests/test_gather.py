"""The gatherer against the simulator and real clusters: exact capture through faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import threading
import time

import httpx

import psycopg
import pytest
from websockets.sync.client import connect

from conftest import REPO_ROOT, kstore_env
from kstore import audit, roles
from kstore.gatherer.run import Gatherer
from kstore.kalshi_auth import generate_keypair
from kstore.simulator import SimulatorOptions, SimulatorThread
from kstore.simulator.truth import read_truth

WRITER = roles.GATHERER_WRITER


@pytest.fixture
def gatherer_dbs(server):
    """A migrated ts and rel database pair for one gatherer, reached as the writer role."""
    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    return {"g1_ts": ts.dsn_as(WRITER), "g1_rel": rel.dsn_as(WRITER)}, ts, rel


def simulate(tmp_path, **options) -> SimulatorThread:
    defaults = dict(port=0, seed=7, markets=8, rate=500, duration=4, truth=tmp_path / "t.jsonl",
                    ping_interval=None, lifecycle_rate=1.0)
    return SimulatorThread(SimulatorOptions(**(defaults | options)))


def settings_for(server, dsns: dict, sim: SimulatorThread, **gather):
    return server.settings(
        gatherers=["g1"], dsn=dsns,
        kalshi={"ws_url": sim.ws_url, "rest_url": sim.rest_url},
        gather={"status_interval": 1, "snapshot_interval": 1, "registry_interval": 1,
                "backoff_max": 1} | gather,
    )


def gather(settings, seconds: float) -> dict:
    return asyncio.run(Gatherer(settings, "g1").run(seconds))


def audited(settings, tmp_path, target="g1") -> dict:
    return audit.audit(settings, audit.load_truth(tmp_path / "t.jsonl"), target)


def scalar(dsn: str, query: str):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchone()[0]


def test_a_clean_run_captures_exactly_the_truth(server, gatherer_dbs, tmp_path):
    dsns, ts, rel = gatherer_dbs
    with simulate(tmp_path) as sim:
        settings = settings_for(server, dsns, sim)
        summary = gather(settings, 5.5)

    result = audited(settings, tmp_path)
    assert audit.clean(result), audit.render(result)
    assert result["orderbook_deltas"]["truth"] > 1000 and result["trades"]["truth"] > 100
    # Tables without an audit rule are listed, with their rows, not silently left out.
    assert {"orderbook_snapshots", "series", "events"} <= result.keys() - audit.compared(result)
    assert result["orderbook_snapshots"]["stored"] > 0 and "no audit rule" in audit.render(result)
    assert summary["writers"]["committed"] == summary["stream"]["rows"]
    assert scalar(ts.dsn, "select count(*) from kstore.orderbook_snapshots where source = 'rest'")
    assert scalar(ts.dsn, "select count(*) from kstore.orderbook_snapshots where source = 'ws'")


def test_money_survives_exactly_from_frame_to_row(server, gatherer_dbs, tmp_path):
    dsns, ts, rel = gatherer_dbs
    with simulate(tmp_path, duration=3) as sim:
        gather(settings_for(server, dsns, sim), 4.5)
    sent = {t["trade_id"]: t for t in read_truth(tmp_path / "t.jsonl") if t["table"] == "trades"}
    with psycopg.connect(ts.dsn) as conn:
        rows = conn.execute("select trade_id::text, yes_price::text, count::text"
                            " from kstore.trades").fetchall()
    six_places = [r for r in rows if len(sent[r[0]]["yes_price_dollars"].split(".")[1]) == 6]
    assert six_places, "the simulator sends 6-decimal prices in some markets"
    for trade_id, price, count in rows:
        assert price.rstrip("0") == sent[trade_id]["yes_price_dollars"].rstrip("0")
        assert count == sent[trade_id]["count_fp"]


def test_malformed_frames_are_quarantined_and_the_rest_is_exact(server, gatherer_dbs, tmp_path):
    dsns, ts, rel = gatherer_dbs
    with simulate(tmp_path, faults="malformed,duplicates", malformed_probability=0.02,
                  duplicate_probability=0.02) as sim:
        settings = settings_for(server, dsns, sim)
        summary = gather(settings, 5.5)
        injected = list(sim.simulator.injected)  # the run is over: read it directly

    result = audited(settings, tmp_path)
    assert audit.clean(result), audit.render(result)
    kinds = {name for _, name, _ in injected}
    assert len(kinds) >= 20, f"most of the catalogue was exercised: {sorted(kinds)}"
    assert scalar(ts.dsn, "select count(*) from kstore.quarantine") == len(injected)
    assert summary["stream"]["duplicates"] > 0


def shadow_subscriber(sim: SimulatorThread) -> threading.Thread:
    """A second order-book subscriber: the simulator never drops an event from every
    receiver, so a lone gatherer would see no gaps."""
    markets = [m["ticker"] for m in httpx.get(f"{sim.rest_url}/markets").json()["markets"]]
    subscribed = threading.Event()

    def listen():
        with contextlib.suppress(Exception), connect(sim.ws_url, max_size=None) as ws:
            ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {
                "channels": ["orderbook_delta"], "market_tickers": markets}}))
            subscribed.set()
            while True:
                ws.recv()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert subscribed.wait(10)
    return thread


def test_gaps_are_recorded_and_recovered(server, gatherer_dbs, tmp_path):
    dsns, ts, rel = gatherer_dbs
    with simulate(tmp_path, faults="gaps", drop_probability=0.02, fault_slots=2,
                  wait_for_subscribers=2) as sim:
        shadow_subscriber(sim)
        settings = settings_for(server, dsns, sim)
        summary = gather(settings, 5.5)

    gaps = summary["stream"]["gaps"]
    assert gaps > 0
    with psycopg.connect(ts.dsn) as conn:
        recorded, recovered = conn.execute(  # the simulator's end of feed is a break too
            "select count(*), count(recovered_at) from kstore.feed_gaps"
            " where cause = 'seq_jump'").fetchone()
        wrong = conn.execute("select count(*) from kstore.feed_gaps"
                             " where received_seq <= expected_seq").fetchone()[0]
    assert recorded == gaps and recovered == gaps and wrong == 0
    result = audited(settings, tmp_path)
    assert result["orderbook_deltas"]["missing"] > 0, "dropped deltas are gone from g1 alone"
    compared = audit.compared(result).values()  # tables with an audit rule
    assert all(r["duplicated"] == 0 and r["extra"] == 0 for r in compared)


def test_disconnects_reconnect_and_resume(server, gatherer_dbs, tmp_path):
    dsns, ts, rel = gatherer_dbs
    with simulate(tmp_path, duration=6, faults="disconnects", disconnect_every=1.5) as sim:
        settings = settings_for(server, dsns, sim)
        summary = gather(settings, 7.5)

    assert summary["connects"] >= 3
    result = audited(settings, tmp_path)
    compared = audit.compared(result).values()  # tables with an audit rule
    assert all(r["duplicated"] == 0 and r["extra"] == 0 for r in compared)
    stored = result["orderbook_deltas"]["stored"]
    assert stored > 0.6 * result["orderbook_deltas"]["truth"], "most of the feed captured"
    last = scalar(ts.dsn, "select max(ts) from kstore.orderbook_deltas")
    first = scalar(ts.dsn, "select min(ts) from kstore.orderbook_deltas")
    assert (last - first).total_seconds() > 5, "capture resumed after every disconnect"


def test_sigterm_mid_stream_flushes_every_received_row(server, gatherer_dbs, tmp_path):
    dsns, ts, rel = gatherer_dbs
    with simulate(tmp_path, duration=30, rate=3000) as sim:
        env = kstore_env({
            "KSTORE_GATHERERS": '["g1"]', "KSTORE_DSN__G1_TS": dsns["g1_ts"],
            "KSTORE_DSN__G1_REL": dsns["g1_rel"], "KSTORE_KALSHI__WS_URL": sim.ws_url,
            "KSTORE_KALSHI__REST_URL": sim.rest_url, "KSTORE_GATHER__BATCH_DELAY": "2",
            "KSTORE_GATHER__BATCH_ROWS": "10000",
        })
        process = subprocess.Popen(
            [sys.executable, "-m", "kstore.cli", "gather", "--gatherer", "g1"], env=env,
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(4)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)

    assert process.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["stream"]["rows"] > 1000
    assert summary["writers"]["committed"] == summary["stream"]["rows"]
    stored = sum(scalar(ts.dsn, f"select count(*) from kstore.{table}")
                 for table in ("trades", "orderbook_deltas", "tickers", "orderbook_snapshots",
                               "quarantine"))
    assert stored == summary["writers"]["inserted"], "the rest were already present (dedup)"
    after_every_row = " and ".join(
        f"not exists (select from kstore.{table} where xact_id >= r.stopped_xid)"
        for table in ("trades", "orderbook_deltas", "tickers", "orderbook_snapshots"))
    assert scalar(ts.dsn, f"select count(*) from ops.capture_runs as r where r.stopped_at"
                          f" is not null and {after_every_row}") == 1, \
        "the run's stop is recorded, by a transaction after every row's (decision 0015)"


def test_a_wrong_signature_is_refused_and_reported(server, gatherer_dbs, tmp_path):
    dsns, ts, rel = gatherer_dbs
    _, public = generate_keypair()
    wrong_private, _ = generate_keypair()
    (tmp_path / "exchange.pub").write_bytes(public)
    with simulate(tmp_path, public_key=tmp_path / "exchange.pub") as sim:
        env = kstore_env({
            "KSTORE_GATHERERS": '["g1"]', "KSTORE_DSN__G1_TS": dsns["g1_ts"],
            "KSTORE_DSN__G1_REL": dsns["g1_rel"], "KSTORE_KALSHI__WS_URL": sim.ws_url,
            "KSTORE_KALSHI__REST_URL": sim.rest_url, "KSTORE_KALSHI__KEY_ID": "key-1",
            "KSTORE_KALSHI__PRIVATE_KEY": wrong_private.decode(),
        })
        result = subprocess.run(
            [sys.executable, "-m", "kstore.cli", "gather", "--gatherer", "g1", "--duration", "5"],
            env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("kstore: error: ") and "401" in last and "signature" in last
