"""A gatherer against a catalogue at the real exchange's size (issue 11).

The simulator lists `--catalogue` markets (`--mve` of them multivariate) beside the 50 active
markets that carry almost all the events; the gatherer's selection (non-MVE markets with
status `open`) selects about `--books` order books. Both run in their own processes against
a throw-away cluster. Measured:
1. start → every selected book subscribed and baselined (a WS snapshot of each committed);
   target ≤ 120 s; and the registry's full load: REST calls and seconds (its own summary);
2. the gatherer's peak RSS over the whole run (psutil); target < 1 GiB;
3. sustained events/s: frames the gatherer read per second over `--seconds` at an offered
   `--rate`, once with the catalogue (after every book is baselined) and once in the
   configuration of `kstore bench capture` (50 markets, no catalogue), same run; target: the
   catalogue figure ≥ 0.8 × the 50-market one;
4. one REST book round of the whole selection within the Basic budget (20 reads/s): a third
   gatherer run against a simulator that answers 429 above 20 requests/s, with
   `snapshot_interval` 1 s so the round runs as fast as its share of the budget allows and a
   feed of 1,000 events/s (a backlog of feed rows would delay the books' commits)
   (`rest.book_share`; with the default 300 s it is spread over 300 s instead): the batch
   calls and seconds of the first round of the whole selection (the gatherer logs each round),
   the most REST requests the simulator served in one second and its 429s;
   target: the round fits the budget (no 429) in ≤ 300 s.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg

from kstore import survey
from kstore.bench import measure
from kstore.pgcluster import find_pg_bin, free_port
from kstore.settings import Settings
from kstore.testing import ScratchServer

WRITER = "kstore_gatherer_writer"
BASELINE_TARGET = 120.0
RSS_TARGET = 1 << 30
GOAL = 0.8
ROUND_TARGET = 300.0
BASIC = 20  # reads/s of Kalshi's Basic tier: the simulator refuses more with 429
ROUND_RATE = 1_000  # events/s while the round is measured: a feed the gatherer keeps up with


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--catalogue", type=measure.positive(), default=200_000,
                        help="markets the simulator lists beside the 50 active ones")
    parser.add_argument("--mve", type=measure.positive(int, 0), default=150_000,
                        help="of them multivariate (MVE)")
    parser.add_argument("--rate", type=measure.positive(), default=3_000,
                        help="offered events/s (default %(default)s)")
    parser.add_argument("--seconds", type=measure.positive(float, 1), default=20,
                        help="seconds each events/s measurement lasts")
    parser.add_argument("--timeout", type=measure.positive(float, 10), default=600,
                        help="give up waiting for the baselines after this many seconds")


def run(args: argparse.Namespace, settings: Settings) -> int:
    server = ScratchServer("plain", find_pg_bin(settings.pg_bin)).start()
    try:
        small = _phase(server, args, catalogue=False)
        large = _phase(server, args, catalogue=True)
        books_round = _phase(server, args, catalogue=True, book_round=True)
    finally:
        server.stop()
    print(report(small, large, args))
    print(round_report(books_round))
    return 0


def _phase(server: ScratchServer, args, catalogue: bool, book_round: bool = False) -> dict:
    """One simulator and one gatherer process; the measurements of one configuration (with
    `book_round`: of the first REST book round instead)."""
    port = free_port()
    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    sim_args = ["--catalogue", str(args.catalogue), "--mve", str(args.mve)] if catalogue else []
    if book_round:
        sim_args += ["--rest-rate-limit", str(BASIC)]
    with tempfile.TemporaryDirectory() as home, open(Path(home) / "sim.log", "w+") as sim_log:
        simulator = subprocess.Popen(
            [sys.executable, "-m", "kstore.simulator", "--port", str(port), "--seed", "1",
             "--markets", "50", "--rate", str(ROUND_RATE if book_round else args.rate),
             "--lifecycle-rate", "0.2",
             "--ping-interval", "5", *sim_args], stdout=sim_log, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(port, 120)
            env = _env(ts, rel, port, home, catalogue)
            books = _books(env) if catalogue else None
            if not book_round:
                return _gather(env, ts.dsn, books, Path(home), args) | {"books": books}
            env |= {"KSTORE_GATHER__SNAPSHOT_INTERVAL": "1", "KSTORE_REST__TIER": "basic"}
            found = _book_round(env, books, Path(home), args)
        finally:
            simulator.send_signal(signal.SIGINT)
            simulator.wait(30)
        sim_log.seek(0)
        return found | {"books": books, "rest": _stopped_summary(sim_log.read())}


def _wait_for_port(port: int, seconds: float) -> None:
    import socket
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"simulator did not listen on {port} within {seconds:g} s")


def _env(ts, rel, port: int, home: str, catalogue: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KSTORE_")}
    return env | {
        "KSTORE_HOME": home, "KSTORE_GATHERERS": '["g1"]',
        "KSTORE_DSN__G1_TS": ts.dsn_as(WRITER), "KSTORE_DSN__G1_REL": rel.dsn_as(WRITER),
        "KSTORE_KALSHI__WS_URL": f"ws://127.0.0.1:{port}/trade-api/ws/v2",
        "KSTORE_KALSHI__REST_URL": f"http://127.0.0.1:{port}/trade-api/v2",
        "KSTORE_GATHER__STATUS_INTERVAL": "1", "KSTORE_GATHER__SNAPSHOT_INTERVAL": "3600",
        "KSTORE_GATHER__SELECTION__STATUSES": '["open"]' if catalogue else
        '["unopened", "open", "paused"]',
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }


def _books(env: dict) -> int:
    """What the selection selects, asked of the exchange as `kstore markets` does."""
    from kstore.settings import load
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("KSTORE_")})
    try:
        return asyncio.run(survey.survey(load()))["books"]
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _gatherer(env: dict, log_path: Path):
    """`kstore gather --gatherer g1` in its own process, its log to `log_path`, watched for RSS
    while the block runs; then SIGTERM and its exit."""
    with open(log_path, "w") as log_file:
        gatherer = subprocess.Popen(
            [sys.executable, "-m", "kstore.cli", "gather", "--gatherer", "g1"], env=env,
            stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        yield _Watch(gatherer.pid)
    finally:
        gatherer.send_signal(signal.SIGTERM)
        gatherer.wait(60)


def _gather(env: dict, ts_dsn: str, books: int | None, home: Path, args) -> dict:
    started, log_path, timeline = time.monotonic(), home / "gatherer.log", []
    with _gatherer(env, log_path) as watch:
        baselined = _baselined(ts_dsn, books, started, watch, args, timeline) if books else None
        _reading(home / "run" / "g1.heartbeat", watch)
        watch.sleep(3)
        rate = _frames_per_second(home / "run" / "g1.heartbeat", args.seconds, watch)
    log = log_path.read_text()
    return {"baselined_s": baselined, "events_per_s": rate, "rss_peak": watch.peak,
            "load": _loaded(log), "reconnects": log.count("gather: connection lost"),
            "timeline": timeline}


def _book_round(env: dict, books: int, home: Path, args) -> dict:
    """The gatherer until it has done one REST book round of the whole selection (its log line
    `REST book round: N books in C calls, S s` with N = books); the first rounds of a restart
    may cover the markets known so far only."""
    log_path, started, found = home / "gatherer.log", time.monotonic(), None
    with _gatherer(env, log_path) as watch:
        while found is None and time.monotonic() - started < args.timeout:
            watch.sleep(2)
            found = next((m for m in ROUND.finditer(log_path.read_text())
                          if int(m["books"]) >= books), None)
    if found is None:
        return {"calls": None, "seconds": None}
    return {"calls": int(found["calls"]), "seconds": float(found["seconds"])}


ROUND = re.compile(r"REST book round: (?P<books>\d+) books in (?P<calls>\d+) calls, "
                   r"(?P<seconds>[\d.]+) s")


def _stopped_summary(log: str) -> dict:
    """The simulator's own counters from its last log line ("... stopped: {...}")."""
    for line in reversed(log.splitlines()):
        if " stopped: {" in line:
            return ast.literal_eval(line.split(" stopped: ", 1)[1].strip())
    return {}


def _loaded(log: str) -> dict | None:
    """The registry's own account of its full load (its log line)."""
    for line in log.splitlines():
        if "registry: loaded " in line:
            return ast.literal_eval(line.split("registry: loaded ", 1)[1].strip())
    return None


class _Watch:
    """Samples a process's RSS while the bench waits."""

    def __init__(self, pid: int) -> None:
        self.process, self.peak = psutil.Process(pid), 0

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(min(0.25, max(0.0, end - time.monotonic())))


def _baselined(ts_dsn: str, books: int, started: float, watch: _Watch, args,
               timeline: list) -> float | None:
    """Seconds from start until `books` markets have a committed WS snapshot; `timeline` gets
    (seconds, books baselined) every 15 s."""
    while time.monotonic() - started < args.timeout:
        watch.sleep(1)
        with psycopg.connect(ts_dsn) as conn:
            found = conn.execute("select count(distinct market_ticker) from "
                                 "kstore.orderbook_snapshots where source = 'ws'").fetchone()[0]
        elapsed = time.monotonic() - started
        if not timeline or elapsed - timeline[-1][0] >= 15:
            timeline.append((round(elapsed), found))
        if found >= books:
            return round(time.monotonic() - started, 1)
    return None


def _reading(heartbeat: Path, watch: _Watch) -> None:
    """Until the gatherer has read its first frames (its process has started up)."""
    for _ in range(240):
        if heartbeat.is_file() and int((heartbeat.read_text().split() or ["0", "0"])[1]) > 0:
            return
        watch.sleep(0.5)


def _frames_per_second(heartbeat: Path, seconds: float, watch: _Watch) -> float:
    """Frames the gatherer read per second over `seconds` (its heartbeat file's counter)."""
    def frames() -> tuple[float, int]:
        return time.monotonic(), int(heartbeat.read_text().split()[1])
    first = frames()
    watch.sleep(seconds)
    last = frames()
    return round((last[1] - first[1]) / (last[0] - first[0]), 1)


def report(small: dict, large: dict, args) -> str:
    ratio = large["events_per_s"] / small["events_per_s"] if small["events_per_s"] else 0.0
    load = large.get("load") or {}
    mark = lambda ok: "meets" if ok else "MISSES"  # noqa: E731
    base = large["baselined_s"]
    return "\n".join([
        f"kstore bench catalogue: {args.catalogue} markets ({args.mve} MVE), "
        f"{large['books']} books selected, offered {args.rate} events/s",
        f"  start -> every book subscribed and baselined: {base} s "
        f"({mark(base is not None and base <= BASELINE_TARGET)} <= {BASELINE_TARGET:g} s)",
        f"  registry full load: {load.get('requests')} REST calls in {load.get('seconds')} s "
        f"({load.get('selected')} selected); reconnects {large['reconnects']}; books baselined "
        f"(s, books): {large['timeline']}",
        f"  gatherer peak RSS: {large['rss_peak'] / 2**20:.0f} MiB "
        f"({mark(large['rss_peak'] < RSS_TARGET)} < 1024 MiB); 50 markets: "
        f"{small['rss_peak'] / 2**20:.0f} MiB",
        f"  sustained events/s: {large['events_per_s']} with the catalogue vs "
        f"{small['events_per_s']} at 50 markets = {ratio:.2f}x ({mark(ratio >= GOAL)} >= {GOAL}x)",
    ])


def round_report(found: dict) -> str:
    rest, seconds = found.get("rest", {}), found.get("seconds")
    ok = seconds is not None and seconds <= ROUND_TARGET and rest.get("rest_refused") == 0
    text = (f"  one REST book round of {found['books']} books: {found['calls']} batch calls in "
            f"{seconds:.1f} s at the book share of the Basic budget (feed {ROUND_RATE:,} "
            "events/s)" if seconds is not None else
            f"  one REST book round of {found['books']} books: not complete")
    return (f"{text}; the simulator served at most {rest.get('rest_max_per_second')} REST "
            f"requests in one second (Basic: {BASIC}), {rest.get('rest_refused')} refused with "
            f"429 ({'meets' if ok else 'MISSES'} <= {ROUND_TARGET:g} s within the budget; "
            "with snapshot_interval 300 s the round is spread over 300 s)")
