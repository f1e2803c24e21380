"""Events/s one gatherer sustains: simulator → gatherer → rows.

The simulator runs in its own process; the gatherer runs here against a throw-away cluster
(plain path, fsync on). Each step also prints the CPU seconds of this process (the gatherer or
the drain-only client), of the PostgreSQL server and of the simulator. Two measurements:
1. sustained events/s: a ladder of offered rates, run first by a client that only drains the
   socket (the simulator + socket ceiling), extended past --rates (x1.25 a step) until that
   client itself falls behind, then by the gatherer over the same rates until it falls
   behind. A rate is sustained when the simulator achieved it (>= 95 % of the offered events/s),
   (nearly) every event was read, the exchange never dropped us (error 25), the writers'
   backlog did not grow (its last-third maximum stays under one second of events) and, for the
   gatherer, the committed rows audit clean against the simulator's truth file (0 missing,
   duplicated and extra rows in every audited table). Ratio = gatherer ceiling / drain ceiling.
   Both clients stop reading at the same moment: DRAIN seconds after the simulator's feed ends
   (it ends `--seconds` + 1.5 s after the simulator listens); what is still queued for them
   then is not read (the drain client's frames fall short, the gatherer's audit finds the
   rows missing). Decision 0031. The report (kstore.bench.capture_report) ends with each
   process's CPU µs per event and the rate at which a thread or the machine's cores run out.
2. latency at 5k events/s: exchange send → receive (rows' received_at - sending_ts) and
   receive → commit (the writers' put → commit samples), p50 and p99 of each; the end-to-end
   p99 is at most the sum of the two p99s.
With --profile FILE, one more gatherer step at its ceiling runs under cProfile (slower, so not
part of the ladder): the stats go to FILE and the top functions by own time are printed.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import cProfile
import io
import json
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import socket

import psycopg
import websockets

from kstore import audit
from kstore.bench import capture_journal, measure
from kstore.bench.capture_report import ceiling, report, sustained
from kstore.gatherer.run import Gatherer
from kstore.pgcluster import find_pg_bin, free_port
from kstore.settings import Settings
from kstore.testing import ScratchServer
from kstore.topology import Database

WRITER = "kstore_gatherer_writer"
LADDER = (5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 40_000)
STEP_UP = 1.25  # past the given rates, each step offers this much more
FEED_EXTRA = 1.5  # the simulator feeds for --seconds + this (consumers connect meanwhile)
DRAIN = 1.0  # seconds after the feed ends that both clients still read (one second of events)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore bench capture` (the CLI adds them to its subcommand)."""
    parser.add_argument("--seconds", type=measure.positive(float, 0.1), default=8,
                        help="feed seconds per rate step")
    parser.add_argument("--markets", type=measure.positive(), default=50,
                        help="markets the simulator lists")
    parser.add_argument("--rates", type=_rates, default=list(LADDER),
                        help="comma list of offered events/s; the ladder goes on past the"
                        " last until the drain-only client falls behind (default: %(default)s)")
    parser.add_argument("--max-rate", type=measure.positive(), default=1_000_000,
                        help="the ladder never offers more events/s (default: %(default)s)")
    parser.add_argument("--journal", type=capture_journal.modes, default=["on"],
                        help="on, off or on,off: the gatherer ladder per journal mode")
    parser.add_argument("--profile", type=Path, default=None,
                        help="cProfile one more gatherer step at its ceiling into this file")


def _rates(text: str) -> list[int]:
    try:
        return [int(rate) for rate in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of events/s: {text!r}") from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Runs both ladders, the latency step (and the profiled step) on a throw-away cluster;
    prints the report."""
    server = ScratchServer("plain", find_pg_bin(settings.pg_bin)).start()
    probes = measure.probes(kstore=measure.this_process,
                            postgres=measure.postgres(server.cluster))
    journals = tempfile.TemporaryDirectory()
    modes = {mode: capture_journal.settings_for(settings, mode, Path(journals.name))
             for mode in args.journal}
    try:
        drained = ladder(lambda rate: _step(_drain, rate, args, probes), offered(args))
        ladders, latencies = {}, {}
        for mode, local in modes.items():  # noqa: B023 -- each lambda runs in its iteration
            ladders[mode] = ladder(lambda rate: _step(GathererStep(server, local, args), rate,
                                                      args, probes), iter(drained))
            latencies[mode] = _step(GathererStep(server, local, args), 5_000, args, probes)
        ours, latency = ladders[args.journal[0]], latencies[args.journal[0]]
        settings = modes[args.journal[0]]
        best = ceiling(ours)
        profile = _profiled(server, settings, args, best) if args.profile and best else None
    finally:
        server.stop()
        journals.cleanup()
    print(report(drained, ours, latency))
    print("\n".join(capture_journal.report({m: ceiling(r) for m, r in ladders.items()},
                                            latencies)))
    if profile:
        print(profile)
    return 0


def offered(args: argparse.Namespace) -> Iterator[int]:
    """--rates, then x STEP_UP a step, up to --max-rate."""
    rates = [rate for rate in args.rates if rate <= args.max_rate]
    yield from rates
    rate = rates[-1] if rates else 0
    while (rate := int(rate * STEP_UP) if rate else 1_000) <= args.max_rate:
        yield rate


def ladder(step: Callable[[int], dict], rates: Iterator[int]) -> dict[int, dict]:
    """Steps the rates in order until the first one that is not sustained (included)."""
    results = {}
    for rate in rates:
        results[rate] = step(rate)
        if not sustained(results[rate]):
            break
    return results


def _step(consumer, rate: int, args, probes: dict[str, measure.Probe]) -> dict:
    """One run of the simulator at `rate` with `consumer(port, truth)` connected, and the CPU
    seconds each process spent on it: this one, the PostgreSQL server, the simulator."""
    result, cpu = measure.cpu_of(lambda: _simulated(consumer, rate, args), probes)
    if "kstore" in cpu:  # the audit is the bench's work, not the consumer's
        cpu["kstore"] -= result.pop("audit_cpu", 0.0)
    return result | {"cpu": cpu | {"simulator": result.pop("simulator_cpu")}}


def _simulated(consumer, rate: int, args) -> dict:
    """The simulator's own process at `rate` (its truth file only when the consumer audits);
    the consumer, `consumer(port, deadline)`, reads until `deadline` (time.monotonic(): DRAIN
    after the feed ends); its result once the simulator exited, then its audit (`finish`)."""
    port, auditing = free_port(), getattr(consumer, "audits", False)
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "log", "w+") as log:
        truth = Path(tmp) / "truth.jsonl"
        simulator = subprocess.Popen(
            [sys.executable, "-m", "kstore.simulator", "--port", str(port), "--seed", "1",
             "--markets", str(args.markets), "--rate", str(rate),
             "--duration", str(args.seconds + FEED_EXTRA), "--lifecycle-rate", "0.2",
             *(["--truth", str(truth)] if auditing else [])],
            stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_for_port(port)
            deadline = time.monotonic() + args.seconds + FEED_EXTRA + DRAIN
            result = asyncio.run(consumer(port, deadline))
        finally:
            simulator_cpu = measure.exited_cpu(simulator, timeout=60)
        log.seek(0)
        result["simulator"] = _summary(log.read())
        if auditing:
            started = time.process_time()
            result["audit"] = consumer.finish(truth)
            result["audit_cpu"] = time.process_time() - started
    return result | {"offered": rate, "simulator_cpu": simulator_cpu}


def _wait_for_port(port: int) -> None:
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


async def _drain(port: int, deadline: float) -> dict:
    """The baseline consumer: subscribe like a gatherer, read until `deadline`, parse nothing,
    store nothing."""
    frames, errors = 0, 0
    async with websockets.connect(f"ws://127.0.0.1:{port}/trade-api/ws/v2", max_size=None) as ws:
        await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {
            "channels": ["trade", "ticker", "market_lifecycle_v2"]}}))
        book = await _markets(port)
        await ws.send(json.dumps({"id": 2, "cmd": "subscribe", "params": {
            "channels": ["orderbook_delta"], "market_tickers": book}}))
        try:
            async with asyncio.timeout(deadline - time.monotonic()):
                async for raw in ws:
                    frames += 1
                    errors += b'"code":25' in (raw.encode() if isinstance(raw, str) else raw)
        except (websockets.ConnectionClosed, TimeoutError):
            pass
    return {"frames": frames, "slow": errors, "backlog_grew": False}


async def _markets(port: int) -> list[str]:
    import httpx
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{port}/trade-api/v2/markets",
                                  params={"limit": 1000})
    return [market["ticker"] for market in answer.json()["markets"]]


class GathererStep:
    """The consumer of one step: a gatherer writing into new migrated databases, made now so
    that migrating them is not part of the step's CPU seconds; `finish` audits what it
    committed against the simulator's truth."""

    audits = True

    def __init__(self, server: ScratchServer, settings: Settings, args) -> None:
        self.ts, self.rel = server.database("gatherer_ts"), server.database("gatherer_rel")
        self.settings, self.args = settings, args

    def __call__(self, port: int, deadline: float):
        return _gather(self.ts, self.rel, self.settings, port, deadline)

    def finish(self, truth: Path) -> dict:
        local = self.settings.model_copy(update={
            "gatherers": ["g1"], "dsn": {"g1_ts": self.ts.dsn, "g1_rel": self.rel.dsn}})
        return audit.audit(local, audit.load_truth(truth), "g1")


def _profiled(server: ScratchServer, settings: Settings, args, rate: int) -> str:
    """One gatherer step at `rate` under cProfile: the stats to --profile, the top 25
    functions by own time as text."""
    profiler, consumer = cProfile.Profile(), GathererStep(server, settings, args)

    async def profiled(port: int, deadline: float) -> dict:
        profiler.enable()
        try:
            return await consumer(port, deadline)
        finally:
            profiler.disable()
    _simulated(profiled, rate, args)
    profiler.dump_stats(args.profile)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(20)
    return (f"cProfile of the gatherer at {rate} events/s ({args.profile}); own seconds by"
            f" area: {_areas(stats)}\n{out.getvalue()}")


# Where a profiled function's own time is counted: the first area whose marker is in its file
# name (or, for a built-in, its name); the rest is "other".
AREAS = (("idle (epoll wait)", "poll' of 'select.epoll"), ("parse", "gatherer/parse.py"),
         ("stream", "gatherer/stream.py"), ("connection", "gatherer/connection.py"),
         ("gatherer, other modules", "gatherer/"), ("json", "json/"),
         ("websockets", "websockets/"), ("psycopg", "psycopg"), ("asyncio", "asyncio/"))


def _areas(stats: pstats.Stats) -> str:
    """Own (tottime) seconds per AREAS entry, largest first."""
    seconds: dict[str, float] = {}
    for (file, _, name), (_, _, own, _, _) in stats.stats.items():
        where = f"{file} {name}"
        area = next((label for label, marker in AREAS if marker in where), "other")
        seconds[area] = seconds.get(area, 0.0) + own
    return ", ".join(f"{area} {own:.2f}" for area, own in
                     sorted(seconds.items(), key=lambda item: -item[1]))


async def _gather(ts: Database, rel: Database, settings: Settings, port: int,
                  deadline: float) -> dict:
    """A gatherer that reads until `deadline`, then commits everything it read."""
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
    run = asyncio.create_task(gatherer.run(deadline - time.monotonic() + 5))  # a backstop
    asyncio.get_running_loop().call_at(deadline, _stop, gatherer)
    depths = []
    while not run.done():
        await asyncio.sleep(0.25)
        depths.append(gatherer.writers.stats()["queued"])
    summary = await run
    tail = depths[len(depths) * 2 // 3:]
    result = {"frames": summary["stream"]["frames"], "slow": 0,
              "backlog_peak": max(depths, default=0), "backlog_tail": max(tail, default=0),
              "writers": summary["writers"], "journal": summary.get("journal", {})}
    result["transit"] = _transit(ts.dsn)
    return result


def _stop(gatherer: Gatherer) -> None:
    """Stop reading now (like the end of --duration: every row read is still committed)."""
    gatherer.health.stop is not None and gatherer.health.stop.set()


def _transit(dsn: str) -> dict:
    """p50/p99 of received_at - sending_ts over the deltas, in ms."""
    with psycopg.connect(dsn) as conn:
        p50, p99 = conn.execute(
            "select percentile_cont(array[0.5, 0.99]) within group (order by extract(epoch from"
            " received_at - sending_ts) * 1000) from kstore.orderbook_deltas").fetchone()[0]
    return {"p50_ms": p50, "p99_ms": p99}
