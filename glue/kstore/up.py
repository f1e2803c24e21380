"""`kstore up`: the whole capture path on the embedded default, supervised, until Ctrl-C.

Databases up and migrated, gatherers attached, then child processes: the simulator, one
gatherer per configured id, the deduplicator and the lake exporter; `kstore transform` (dbt
build + export of the layers) runs every TRANSFORM_EVERY seconds and once more at the end. A child that dies is restarted (and said so);
a status line is printed every few seconds. With --duration the simulator ends its feed after
that many seconds; then the gatherers are stopped (they flush), the deduplicator makes a final
catch-up pass, and `kstore audit --truth FILE --target production` can demand exactness.
Children log to <home>/logs/<name>.log. A gatherer that is alive but whose heartbeat
(<home>/run/<id>.heartbeat, touched by its status loop) is older than gather.stall_timeout is
wedged: it is stopped (SIGTERM, then SIGKILL after its shutdown bound) and restarted
(decision 0022).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kstore import dedup, migrate, topology
from kstore.gatherer.run import heartbeat_path
from kstore.pgcluster import free_port
from kstore.settings import Settings

STATUS_EVERY = 5.0
TRANSFORM_EVERY = 300.0
GATHERER_GRACE = 3.0  # after the feed ends: let the gatherers read and commit the last frames


@dataclass
class Child:
    name: str
    command: list[str]
    log: Path
    env: dict
    process: subprocess.Popen | None = None
    restarts: int = 0
    heartbeat: Path | None = None  # a file the child touches while it makes progress
    started: float = 0.0

    def start(self) -> None:
        self.started = time.time()
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env, start_new_session=True)

    def silent_for(self, now: float | None = None) -> float:
        """Seconds since the child's last heartbeat (or its start, if later); 0 without one."""
        if self.heartbeat is None or not self.alive():
            return 0.0
        try:
            beat = self.heartbeat.stat().st_mtime
        except OSError:
            beat = 0.0
        return (now or time.time()) - max(beat, self.started)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 60) -> int | None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else None


def prepare(settings: Settings) -> None:
    topology.up(settings)
    for db in topology.databases(settings):
        migrate.apply(db, settings)
        if db.kind == "production":
            dedup.attach(settings, db)


def children(settings: Settings, simulate_args: list[str]) -> list[Child]:
    port = free_port()
    env = os.environ | {
        "KSTORE_HOME": str(settings.home.resolve()),
        "KSTORE_KALSHI__WS_URL": f"ws://127.0.0.1:{port}/trade-api/ws/v2",
        "KSTORE_KALSHI__REST_URL": f"http://127.0.0.1:{port}/trade-api/v2",
    }
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "kstore.cli"]
    wait = ["--wait-for-subscribers", str(len(settings.gatherers))]
    made = [Child("simulator", [*cli, "simulate", "--port", str(port), *wait, *simulate_args],
                  logs / "simulator.log", env)]
    made += [Child(gid, [*cli, "gather", "--gatherer", gid], logs / f"{gid}.log", env,
                   heartbeat=heartbeat_path(settings, gid).resolve())
             for gid in settings.gatherers]
    made.append(Child("dedup", [*cli, "dedup"], logs / "dedup.log", env))
    made.append(Child("exporter", [*cli, "export"], logs / "exporter.log", env))
    return made


def transform_child(procs: list[Child], command: str = "transform") -> Child:
    """A one-shot `kstore <command>`, started on a schedule (never restarted when it exits)."""
    env = procs[0].env
    logs = Path(env["KSTORE_HOME"]) / "logs"
    return Child(command, [sys.executable, "-m", "kstore.cli", command],
                 logs / f"{command}.log", env)


def run(settings: Settings, simulate_args: list[str], feed_ends: bool) -> int:
    """Supervise until Ctrl-C/SIGTERM, or until the simulator's --duration has run out."""
    prepare(settings)
    procs = children(settings, simulate_args)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    for child in procs:
        child.start()
    print(f"kstore up: {', '.join(c.name for c in procs)} started; logs in "
          f"{settings.home / 'logs'}", flush=True)
    try:
        _supervise(settings, procs, feed_ends, stopping)
    except KeyboardInterrupt:
        pass
    return _shutdown(settings, procs)


def _supervise(settings: Settings, procs: list[Child], feed_ends: bool, stopping: list) -> None:
    simulator, last_status = procs[0], 0.0
    transform, last_transform = transform_child(procs), time.monotonic()
    reconcile, last_reconcile = transform_child(procs, "reconcile"), time.monotonic()
    while not stopping:
        if time.monotonic() - last_reconcile >= settings.reconcile.interval \
                and not reconcile.alive():  # the scheduled window (decision 0066)
            last_reconcile = time.monotonic()
            reconcile.start()
        if time.monotonic() - last_transform >= TRANSFORM_EVERY and not transform.alive():
            last_transform = time.monotonic()
            transform.start()
        time.sleep(0.5)
        if feed_ends and not simulator.alive():
            print("kstore up: the feed ended; flushing", flush=True)
            time.sleep(GATHERER_GRACE)
            return
        for child in procs:
            if not child.alive() and not (child is simulator and feed_ends):
                child.restarts += 1
                print(f"kstore up: {child.name} exited with {child.process.returncode}; "
                      f"restarting (restart {child.restarts})", flush=True)
                child.start()
        restart_stalled(procs, settings.gather.stall_timeout, settings.gather.shutdown_timeout)
        if time.monotonic() - last_status >= STATUS_EVERY:
            last_status = time.monotonic()
            print(status_line(settings, procs), flush=True)


def restart_stalled(procs: list[Child], stall_timeout: float, grace: float) -> list[str]:
    """The watchdog: restarts every child alive whose heartbeat is older than stall_timeout
    (SIGTERM, SIGKILL after `grace` seconds); returns their names."""
    restarted = []
    for child in procs:
        silent = child.silent_for()
        if silent > stall_timeout:
            child.restarts += 1
            print(f"kstore up: {child.name} is alive but its heartbeat stopped {silent:.0f} s "
                  f"ago; restarting (restart {child.restarts})", flush=True)
            child.stop(grace)
            child.start()
            restarted.append(child.name)
    return restarted


def status_line(settings: Settings, procs: list[Child]) -> str:
    states = " ".join(f"{c.name}:{'up' if c.alive() else 'down'}" for c in procs)
    try:
        cursors = dedup.status(settings)
    except Exception as exc:  # status is best effort: production may be restarting
        return f"kstore up: {states} | dedup status unavailable ({exc})"
    merged = sum(row["rows_merged"] for row in cursors)
    lags = [row["lag_s"] for row in cursors if row["lag_s"] is not None]
    errors = sum(1 for row in cursors if row["last_error"])
    return (f"kstore up: {states} | merged {merged} rows, max lag "
            f"{max(lags, default=0):.1f}s, {errors} cursor errors")


def _shutdown(settings: Settings, procs: list[Child]) -> int:
    """Gatherers flush first, then the deduplicator makes a last pass over everything."""
    for child in procs:
        child.stop()
    for step in (["dedup", "--once"], ["export", "--once"], ["transform"]):
        final = subprocess.run([sys.executable, "-m", "kstore.cli", *step],
                               env=procs[-1].env, capture_output=True, text=True)
        if final.returncode != 0:
            print(f"kstore up: final {step[0]} failed: {final.stderr.strip()}", flush=True)
            return 1
    print(status_line(settings, procs), flush=True)
    print("kstore up: stopped; every gatherer flushed and merged, closed windows exported, "
          "layers built", flush=True)
    return 0
