"""Faults a real gatherer must survive (issue 9, items 5-8), on real clusters fed by the replay
server: every documented error code has an action; error 25 and reconnects are feed_gaps rows
with a cause and a span, and every book is re-based; a wedged gap log or a database that stops
answering stops neither capture nor SIGTERM; `kstore up` restarts a child that stops beating."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from conftest import PG_BIN, REPO_ROOT, gather_from_replay, kstore_env
from kstore.gatherer import errors
from kstore.gatherer.run import Gatherer, heartbeat_path
from kstore.simulator import SimulatorOptions, SimulatorThread
from kstore.testing import ScratchServer
from kstore.up import Child, restart_stalled

FRAMES = Path(__file__).parent / "frames"
WRITER = "kstore_gatherer_writer"
ANCHOR_MS = (time.time_ns() // 1_000_000) - 60_000
A, B = "KXCPI-26DEC-T0.3", "KXCPI-26DEC-T0.4"
D = Decimal
GAPS = """select cause, sid, channel, market_ticker, expected_seq, received_seq, recovery,
                 last_frame_at is not null and last_frame_at <= detected_at
                     and detected_at <= resumed_at and resumed_at <= recovered_at
          from kstore.feed_gaps order by gap_id"""


def stored(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


def gather(server, frames: Path, seconds: float = 3, **gather_settings):
    """A real gatherer on fresh ts/rel databases fed by the replay of `frames`."""
    summary, _, ts_dsn, settings = gather_from_replay(server, frames, ANCHOR_MS, seconds,
                                                      **gather_settings)
    return summary, ts_dsn, settings


# -- item 5: the error table ------------------------------------------------------------------

def test_every_documented_error_code_has_an_action():
    assert sorted(errors.CODES) == list(range(1, 29))
    assert {action for action, _ in errors.CODES.values()} <= set(errors.ACTIONS)
    assert [code for code, (action, _) in errors.CODES.items() if action == errors.RETRY] == [
        1, 10, 17, 18, 27]
    assert errors.CODES[25][0] == errors.RESUBSCRIBE and errors.CODES[26][0] == errors.SPLIT


def test_error_25_with_a_sid_is_a_gap_per_book_then_fresh_snapshots(plain_server):
    summary, ts, _ = gather(plain_server, FRAMES / "error_25_with_sid.jsonl")

    assert summary["connects"] == 1, summary
    assert stored(ts, GAPS) == [
        ("buffer_overflow", 4, "orderbook_delta", A, None, None, "resubscribe", True),
        ("buffer_overflow", 4, "orderbook_delta", B, None, None, "resubscribe", True)]
    assert stored(ts, """select market_ticker, sid, yes_sizes from kstore.orderbook_snapshots
                         where source = 'ws' order by received_at""") == [
        (A, 4, [D(50)]), (B, 4, [D(60)]), (A, 9, [D(41)]), (B, 9, [D(61)])]
    assert stored(ts, "select market_ticker, sid, seq from kstore.orderbook_deltas order by ts") \
        == [(A, 4, 3), (B, 9, 3)]


def test_error_25_without_a_sid_renews_every_book_subscription(plain_server):
    summary, ts, _ = gather(plain_server, FRAMES / "error_25_without_sid.jsonl",
                            markets_per_subscription=1)

    assert summary["connects"] == 1, summary
    assert stored(ts, GAPS) == [
        ("buffer_overflow", 4, "orderbook_delta", A, None, None, "resubscribe", True),
        ("buffer_overflow", 5, "orderbook_delta", B, None, None, "resubscribe", True)]
    assert stored(ts, """select market_ticker, sid from kstore.orderbook_snapshots
                         where source = 'ws' order by received_at""") == [
        (A, 4), (B, 5), (A, 6), (B, 7)]


# -- item 6: reconnects are data --------------------------------------------------------------

FIRST_CONNECTION = """select cause, sid, channel, market_ticker, recovery, last_frame_at,
                             resumed_at - last_frame_at
                      from kstore.feed_gaps where connection_id = (
                          select connection_id from kstore.orderbook_deltas where sid = 4
                          order by received_at limit 1)
                      order by sid"""
CHANNELS = [(1, "trade", None), (2, "ticker", None), (3, "market_lifecycle_v2", None),
            (4, "orderbook_delta", "KXCPI-26DEC-T0.3")]


def last_delta_of_first_connection(ts: str):
    return stored(ts, "select min(received_at) from kstore.orderbook_deltas where sid = 4")[0][0]


def test_a_silence_is_a_gap_per_subscription_with_its_span(plain_server):
    _, ts, settings = gather(plain_server, FRAMES / "silence_then_reconnect.jsonl", 4,
                             silence_timeout=1, backoff_max=1)

    rows = stored(ts, FIRST_CONNECTION)
    last = last_delta_of_first_connection(ts)
    assert [(cause, sid, channel, market, recovery) for cause, sid, channel, market, recovery,
            *_ in rows] == [("silence", *found, "resubscribe") for found in CHANNELS]
    assert all(row[5] == last and row[6].total_seconds() >= 1 for row in rows), rows
    beat = heartbeat_path(settings, "g1").read_text().split()
    assert beat[0] == str(os.getpid()) and int(beat[1]) > 0


def test_a_close_by_the_server_is_a_gap_per_subscription(plain_server):
    summary, ts, _ = gather(plain_server, FRAMES / "reconnect_after_close.jsonl")

    assert summary["connects"] == 2, summary
    rows = stored(ts, FIRST_CONNECTION)
    assert [(cause, sid, channel, market, recovery) for cause, sid, channel, market, recovery,
            *_ in rows] == [("closed", *found, "resubscribe") for found in CHANNELS]
    assert all(row[5] == last_delta_of_first_connection(ts) for row in rows)
    assert stored(ts, "select count(*) from kstore.feed_gaps") == [(4,)]


# -- items 7 and 8: wedged components, bounded shutdown ---------------------------------------

def start_gatherer(server, frames: Path, sim, **settings) -> tuple[subprocess.Popen, str]:
    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    env = kstore_env({
        "KSTORE_GATHERERS": '["g1"]', "KSTORE_DSN__G1_TS": ts.dsn_as(WRITER),
        "KSTORE_DSN__G1_REL": rel.dsn_as(WRITER), "KSTORE_KALSHI__WS_URL": sim.ws_url,
        "KSTORE_KALSHI__REST_URL": sim.rest_url, "KSTORE_HOME": str(server.root / "home"),
        "KSTORE_GATHER__STATUS_INTERVAL": "1",
        **{f"KSTORE_GATHER__{key.upper()}": str(value) for key, value in settings.items()}})
    return ts.dsn, env


def run_until_stored(env: dict, ts: str, query: str, timeout: float = 30) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "kstore.cli", "gather", "--gatherer", "g1"], env=env,
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while stored(ts, query) == [(0,)]:
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.2)
    return process


def sigterm(process: subprocess.Popen) -> tuple[float, str, str]:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    return time.monotonic() - started, out, err


def test_a_gap_log_that_keeps_failing_stops_neither_capture_nor_sigterm(plain_server):
    frames = FRAMES / "reconnect_after_close.jsonl"
    options = SimulatorOptions(port=0, replay=frames, anchor_ms=ANCHOR_MS, ping_interval=None)
    with SimulatorThread(options) as sim:
        ts, env = start_gatherer(plain_server, frames, sim, shutdown_timeout=4)
        with psycopg.connect(ts, autocommit=True) as conn:
            conn.execute("""
                create function kstore.refuse_gap() returns trigger language plpgsql as $$
                begin raise exception 'feed_gaps refused by the test'; end $$;
                create trigger refuse before insert on kstore.feed_gaps
                for each row execute function kstore.refuse_gap()""")
        process = run_until_stored(
            env, ts, "select count(*) from kstore.orderbook_deltas where delta = 5")
        time.sleep(1.5)  # a status line with the failures
        elapsed, out, err = sigterm(process)

    assert elapsed < 4 + 1.5, (elapsed, err)
    assert process.returncode == 1 and "data left unwritten" in err.strip().splitlines()[-1]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["gaps"]["failures"] > 0 and summary["gaps"]["detected"] == 4
    assert "feed_gaps refused by the test" in err and "gap log" in err
    assert stored(ts, "select count(*) from kstore.orderbook_snapshots where source = 'ws'") \
        == [(2,)]
    assert stored(ts, "select count(*) from kstore.feed_gaps") == [(0,)]


def cluster_processes(server: ScratchServer) -> list[int]:
    """The postmaster and every process it started."""
    postmaster = int((server.cluster.datadir / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            children.append(int(stat.parent.name))
    return [postmaster, *children]


def signal_if_alive(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def test_sigterm_ends_the_gatherer_within_the_bound_when_the_database_stops_answering():
    server = ScratchServer("plain", PG_BIN).start()
    frames = FRAMES / "reconnect_after_close.jsonl"
    options = SimulatorOptions(port=0, replay=frames, anchor_ms=ANCHOR_MS, ping_interval=None)
    try:
        with SimulatorThread(options) as sim:
            ts, env = start_gatherer(server, frames, sim)  # the default bound: 15 s
            process = run_until_stored(
                env, ts, "select count(*) from kstore.orderbook_deltas where delta = 5")
            stopped = cluster_processes(server)
            for pid in stopped:
                signal_if_alive(pid, signal.SIGSTOP)  # a backend may end as it is listed
            try:
                elapsed, _, err = sigterm(process)
            finally:
                for pid in stopped:
                    signal_if_alive(pid, signal.SIGCONT)
        assert elapsed < 15 + 1.5, (elapsed, err)
        assert "stop of capture run 1 not recorded" in err, "logged; the run stays open (0015)"
        assert stored(ts, "select count(*) from kstore.orderbook_deltas") == [(2,)]
    finally:
        server.stop()


def test_sigterm_is_not_held_up_by_an_exchange_that_never_answers_at_start(plain_server):
    import socket
    mute = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    port = mute.getsockname()[1]

    class Mute:
        ws_url, rest_url = f"ws://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/trade-api/v2"

    try:
        ts, env = start_gatherer(plain_server, None, Mute)
        process = subprocess.Popen(
            [sys.executable, "-m", "kstore.cli", "gather", "--gatherer", "g1"], env=env,
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while stored(ts, "select count(*) from ops.capture_runs") == [(0,)]:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.2)
        time.sleep(1)  # the registry's first REST call is pending
        elapsed, out, err = sigterm(process)
    finally:
        mute.close()
    assert elapsed < 5, (elapsed, err)
    assert process.returncode == 0 and json.loads(out.strip().splitlines()[-1])["connects"] == 0
    assert stored(ts, "select count(*) from ops.capture_runs where stopped_at is not null") \
        == [(1,)]


# -- item 8: the watchdog of kstore up --------------------------------------------------------

BEATING = """
import pathlib, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a wedged child: only SIGKILL ends it
path, beats = pathlib.Path(sys.argv[1]), int(sys.argv[2])
for _ in range(beats):
    path.write_text("beat")
    time.sleep(0.2)
time.sleep(3600)
"""


def test_the_watchdog_restarts_a_child_whose_heartbeat_stops(tmp_path):
    def child(name: str, beats: int) -> Child:
        beat = tmp_path / f"{name}.heartbeat"
        return Child(name, [sys.executable, "-c", BEATING, str(beat), str(beats)],
                     tmp_path / f"{name}.log", dict(os.environ), heartbeat=beat)

    stalls, healthy = child("stalls", 3), child("healthy", 10_000)
    procs = [stalls, healthy]
    for proc in procs:
        proc.start()
    first = stalls.process
    try:
        deadline, restarted = time.monotonic() + 20, []
        while not restarted and time.monotonic() < deadline:
            time.sleep(0.3)
            restarted = restart_stalled(procs, stall_timeout=1.5, grace=1)
        assert restarted == ["stalls"]
        assert first.returncode == -signal.SIGKILL, "SIGTERM was ignored: killed after grace"
        assert stalls.alive() and stalls.process is not first and stalls.restarts == 1
        assert healthy.alive() and healthy.restarts == 0
    finally:
        for proc in procs:
            proc.stop(1)


# -- item 5 on a scripted exchange: retry, split, stop ---------------------------------------

def book(market: str) -> dict:
    return {"market_ticker": market, "market_id": "0c7a3b1e-8a51-4f0e-9a4e-3f1d2b6c7a8" +
            market[-1], "yes_dollars_fp": [["0.4100", "1.00"]]}


class ScriptedExchange:
    """A real WebSocket server that answers the n-th order-book subscribe with error
    `refuse[n]`, and any other subscribe with `subscribed` and a snapshot of each market."""

    def __init__(self, refuse: dict[int, int]):
        self.refuse, self.books, self.sids = refuse, [], iter(range(1, 1000))

    async def serve(self, ws) -> None:
        async for raw in ws:
            command = json.loads(raw)
            if command["cmd"] != "subscribe":
                continue
            params = command["params"]
            if params["channels"] == ["orderbook_delta"]:
                self.books.append(params["market_tickers"])
                code = self.refuse.get(len(self.books) - 1)
                if code is not None:
                    await ws.send(json.dumps({"id": command["id"], "type": "error",
                                              "msg": {"code": code, "msg": "refused"}}))
                    continue
            for channel in params["channels"]:
                sid = next(self.sids)
                await ws.send(json.dumps({"id": command["id"], "type": "subscribed",
                                          "msg": {"channel": channel, "sid": sid}}))
                for seq, market in enumerate(params.get("market_tickers", []), 1):
                    await ws.send(json.dumps({"type": "orderbook_snapshot", "sid": sid,
                                              "seq": seq, "msg": book(market)}))


def gather_scripted(server, tmp_path, refuse: dict[int, int]):
    from websockets.asyncio.server import serve
    frames = tmp_path / "markets.jsonl"  # the replay serves REST: markets A and B
    frames.write_text("".join(json.dumps({"json": {
        "type": "orderbook_snapshot", "sid": 1, "seq": n, "msg": book(market)}})
        + "\n" for n, market in enumerate((A, B), 1)))
    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    exchange = ScriptedExchange(refuse)

    async def scenario():
        async with serve(exchange.serve, "127.0.0.1", 0) as ws_server:
            port = ws_server.sockets[0].getsockname()[1]
            settings = server.settings(
                gatherers=["g1"], dsn={"g1_ts": ts.dsn_as(WRITER), "g1_rel": rel.dsn_as(WRITER)},
                kalshi={"ws_url": f"ws://127.0.0.1:{port}/", "rest_url": sim.rest_url},
                gather={"status_interval": 1, "snapshot_interval": 3600,
                        "registry_interval": 3600})
            return await Gatherer(settings, "g1").run(2.5)

    options = SimulatorOptions(port=0, replay=frames, anchor_ms=ANCHOR_MS, ping_interval=None)
    with SimulatorThread(options) as sim:
        summary = asyncio.run(scenario())
    return summary, exchange.books, ts.dsn


BOOKS = "select market_ticker from kstore.orderbook_snapshots where source = 'ws' order by 1"


@pytest.mark.parametrize("code", [10, 17, 18])
def test_a_server_side_error_is_retried(plain_server, tmp_path, code):
    summary, books, ts = gather_scripted(plain_server, tmp_path, {0: code})

    assert books == [[A, B], [A, B]] and summary["connects"] == 1
    assert stored(ts, BOOKS) == [(A,), (B,)]


def test_the_market_limit_splits_the_subscription(plain_server, tmp_path):
    summary, books, ts = gather_scripted(plain_server, tmp_path, {0: 26, 2: 26})

    assert books == [[A, B], [A], [B]], "B alone still refused: left out, with a log line"
    assert stored(ts, BOOKS) == [(A,)]


def test_a_malformed_command_stops_the_gatherer_with_a_reason(plain_server, tmp_path):
    with pytest.raises(errors.CommandRefused, match="refused subscribe with error 11"):
        gather_scripted(plain_server, tmp_path, {0: 11})


# -- item 7: supervision ----------------------------------------------------------------------

def test_a_crashing_component_is_restarted_then_declared_failed(caplog):
    from kstore.gatherer.retry import Health, supervise
    calls = []

    async def crashes():
        calls.append(1)
        raise ValueError("bad answer")

    async def heals():
        calls.append(2)
        if calls.count(2) < 3:
            raise KeyError("transient")

    async def scenario():
        health, stop = Health(), asyncio.Event()
        health.stop = stop
        await supervise("healing", heals, health, stop, max_crashes=5)
        assert health.failed is None and not stop.is_set()
        await supervise("books", crashes, health, stop, max_crashes=4)
        return health, stop

    with caplog.at_level("ERROR", logger="kstore.gather"):
        health, stop = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert calls.count(2) == 3 and calls.count(1) == 4
    assert health.errors == {"healing": 2, "books": 4} and stop.is_set()
    assert health.failed == "books failed 4 times in a row (ValueError: bad answer)"
    logged = [r.getMessage() for r in caplog.records if "books failed" in r.getMessage()]
    assert [line.split("; ")[1] for line in logged] == [
        "restarting it", "stopping so that the supervisor restarts the gatherer"], \
        "one line per streak of identical failures, one when giving up"
