"""Events/s one gatherer sustains: simulator → gatherer → rows.

The simulator runs in its own process; the gatherer runs here against a throw-away cluster
(plain path, fsync on). Each step also prints the CPU seconds of this process (the gatherer or
the drain-only client), of the PostgreSQL server and of the simulator. Two measurements:
1. sustained events/s: a ladder of offered rates; a rate is sustained when every frame sent
   was received, the exchange never dropped us (error 25) and the writers' backlog did not
   grow through the run (its last-third maximum stays under one second of events). The same
   ladder run by a client that only drains the socket is the baseline: ratio = ours / drain.
2. latency at 5k events/s: exchange send → receive (rows' received_at - sending_ts) and
   receive → commit (the writers' put → commit samples), p50 and p99 of each; the end-to-end
   p99 is at most the sum of the two p99s.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import subprocess
import sys
import tempfile
import time

import psycopg
import websockets

from kstore.bench import measure
from kstore.gatherer.run import Gatherer
from kstore.pgcluster import find_pg_bin, free_port
from kstore.settings import Settings
from kstore.testing import ScratchServer
from kstore.topology import Database

WRITER = "kstore_gatherer_writer"
LADDER = (5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 40_000)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore bench capture` (the CLI adds them to its subcommand)."""
    parser.add_argument("--seconds", type=measure.positive(float, 0.1), default=8,
                        help="feed seconds per rate step")
    parser.add_argument("--markets", type=measure.positive(), default=50,
                        help="markets the simulator lists")
    parser.add_argument("--rates", type=_rates, default=list(LADDER),
                        help="comma list of offered events/s (default: %(default)s)")


def _rates(text: str) -> list[int]:
    try:
        return [int(rate) for rate in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of events/s: {text!r}") from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Runs the ladder, then the latency step, on a throw-away cluster; prints the report."""
    server = ScratchServer("plain", find_pg_bin(settings.pg_bin)).start()
    probes = measure.probes(kstore=measure.this_process,
                            postgres=measure.postgres(server.cluster))
    try:
        rates = args.rates
        drained = {rate: _step(_drain, rate, args, probes) for rate in rates}
        ours = {rate: _step(_gatherer(server, settings, args), rate, args, probes)
                for rate in rates}
        latency = _step(_gatherer(server, settings, args), 5_000, args, probes)
    finally:
        server.stop()
    print(report(rates, drained, ours, latency))
    return 0


def _step(consumer, rate: int, args, probes: dict[str, measure.Probe]) -> dict:
    """One run of the simulator at `rate` with `consumer(port)` connected, and the CPU seconds
    each process spent on it: this one, the PostgreSQL server, the simulator."""
    result, cpu = measure.cpu_of(lambda: _simulated(consumer, rate, args), probes)
    return result | {"cpu": cpu | {"simulator": result.pop("simulator_cpu")}}


def _simulated(consumer, rate: int, args) -> dict:
    port = free_port()
    with tempfile.TemporaryFile("w+") as log:
        simulator = subprocess.Popen(
            [sys.executable, "-m", "kstore.simulator", "--port", str(port), "--seed", "1",
             "--markets", str(args.markets), "--rate", str(rate),
             "--duration", str(args.seconds + 1.5), "--lifecycle-rate", "0.2"],
            stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_for_port(port)
            result = asyncio.run(consumer(port))
        finally:
            simulator_cpu = measure.exited_cpu(simulator, timeout=60)
        log.seek(0)
        result["simulator"] = _summary(log.read())
    return result | {"offered": rate, "simulator_cpu": simulator_cpu}


def _wait_for_port(port: int) -> None:
    import socket
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"simulator did not listen on {port}")


def _summary(output: str) -> dict:
    for line in reversed(output.splitlines()):
        if "simulator stopped:" in line:
            return ast.literal_eval(line.split("simulator stopped:", 1)[1].strip())
    return {}


async def _drain(port: int) -> dict:
    """The baseline consumer: subscribe like a gatherer, read, parse nothing, store nothing."""
    frames, errors = 0, 0
    async with websockets.connect(f"ws://127.0.0.1:{port}/trade-api/ws/v2", max_size=None) as ws:
        await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {
            "channels": ["trade", "ticker", "market_lifecycle_v2"]}}))
        book = await _markets(port)
        await ws.send(json.dumps({"id": 2, "cmd": "subscribe", "params": {
            "channels": ["orderbook_delta"], "market_tickers": book}}))
        try:
            async for raw in ws:
                frames += 1
                errors += b'"code":25' in (raw.encode() if isinstance(raw, str) else raw)
        except websockets.ConnectionClosed:
            pass
    return {"frames": frames, "slow": errors, "backlog_grew": False}


async def _markets(port: int) -> list[str]:
    import httpx
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{port}/trade-api/v2/markets",
                                  params={"limit": 1000})
    return [market["ticker"] for market in answer.json()["markets"]]


def _gatherer(server: ScratchServer, settings: Settings, args):
    """The consumer of one step: a gatherer writing into new migrated databases, made now so
    that migrating them is not part of the step's CPU seconds."""
    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    return lambda port: _gather(ts, rel, settings, port, args)


async def _gather(ts: Database, rel: Database, settings: Settings, port: int, args) -> dict:
    local = settings.model_copy(update={
        "gatherers": ["g1"],
        "dsn": {"g1_ts": ts.dsn_as(WRITER), "g1_rel": rel.dsn_as(WRITER)},
        "kalshi": settings.kalshi.model_copy(update={
            "ws_url": f"ws://127.0.0.1:{port}/trade-api/ws/v2",
            "rest_url": f"http://127.0.0.1:{port}/trade-api/v2"}),
        "gather": settings.gather.model_copy(update={
            "status_interval": 3600, "snapshot_interval": 3600, "registry_interval": 3600}),
    })
    gatherer = Gatherer(local, "g1")
    run = asyncio.create_task(gatherer.run(args.seconds + 3))
    depths = []
    while not run.done():
        await asyncio.sleep(0.25)
        depths.append(gatherer.writers.stats()["queued"])
    summary = await run
    tail = depths[len(depths) * 2 // 3:]
    result = {"frames": summary["stream"]["frames"], "slow": 0,
              "backlog_peak": max(depths, default=0), "backlog_tail": max(tail, default=0),
              "writers": summary["writers"]}
    result["transit"] = _transit(ts.dsn)
    return result


def _transit(dsn: str) -> dict:
    """p50/p99 of received_at - sending_ts over the deltas, in ms."""
    with psycopg.connect(dsn) as conn:
        p50, p99 = conn.execute(
            "select percentile_cont(array[0.5, 0.99]) within group (order by extract(epoch from"
            " received_at - sending_ts) * 1000) from kstore.orderbook_deltas").fetchone()[0]
    return {"p50_ms": p50, "p99_ms": p99}


def sustained(result: dict) -> bool:
    """Nothing dropped by the exchange, (nearly) every event read, backlog not growing."""
    events = result["simulator"].get("events", 0)
    slow = result["slow"] or result["simulator"].get("slow", 0)
    backlog_ok = result.get("backlog_tail", 0) <= result["offered"]
    return not slow and backlog_ok and result["frames"] >= 0.98 * events


def report(rates, drained, ours, latency) -> str:
    lines = ["offered/s   drain-only   gatherer   backlog tail (rows)   gatherer step"]
    for rate in rates:
        lines.append(f"{rate:>9}   {_mark(drained[rate]):>10}   {_mark(ours[rate]):>8}   "
                     f"{ours[rate].get('backlog_tail', 0):>19}   "
                     f"{measure.cpu_line(ours[rate]['cpu'])}")
    best_drain = max((r for r in rates if sustained(drained[r])), default=0)
    best_ours = max((r for r in rates if sustained(ours[r])), default=0)
    ratio = best_ours / best_drain if best_drain else float("nan")
    writers = latency["writers"]
    transit = latency["transit"]
    lines += [
        f"sustained: gatherer {best_ours} events/s, drain-only baseline {best_drain} events/s,"
        f" ratio {ratio:.2f} (target: >= 20000 events/s)",
        f"latency at 5000 events/s: send->receive p50 {transit['p50_ms']:.1f} ms,"
        f" p99 {transit['p99_ms']:.1f} ms; receive->commit p50 {writers['latency_p50_ms']:.1f}"
        f" ms, p99 {writers['latency_p99_ms']:.1f} ms; send->commit p99 <="
        f" {transit['p99_ms'] + writers['latency_p99_ms']:.1f} ms (target < 250 ms)",
        f"latency step, {measure.cpu_line(latency['cpu'])}",
    ]
    return "\n".join(lines)


def _mark(result: dict) -> str:
    return "ok" if sustained(result) else "falls behind"
