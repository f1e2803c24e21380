"""`kstore up`: the whole capture path on one host, supervised, until Ctrl-C.

Databases up and migrated, gatherers attached, then child processes: the exchange (the
simulator, unless an `Exchange` names a real one), one gatherer per configured id, the
deduplicator and the lake exporter; scheduled one-shot jobs run beside them: `kstore maintain`
(at start, then every MAINTAIN_EVERY seconds) and `kstore transform` (dbt build + export of the
layers, every TRANSFORM_EVERY seconds and once more at the end). A child that dies is restarted
(and said so); a status line is printed every few seconds. With a duration the feed ends after
that many seconds (the simulator's --duration, or a deadline against a real exchange); then the
gatherers are stopped (they flush), the deduplicator makes a final catch-up pass, and
`kstore audit --truth FILE --target production` can demand exactness. Every child gets the
parent's `--config` and home. Children log to <home>/logs/<name>.log. A gatherer that is alive
but whose heartbeat (<home>/run/<id>.heartbeat, touched by its status loop) is older than
gather.stall_timeout is wedged: it is stopped (SIGTERM, then SIGKILL after its shutdown bound)
and restarted (decision 0022). The options passed on to the simulator are checked before
anything starts, as `kstore simulate` checks them; a simulator that exits with an error ends the
run with exit 1 (a restarted one would be another run, its truth file rewritten, decision 0089).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kstore import dedup, migrate, topology
from kstore.gatherer.run import heartbeat_path
from kstore.pgcluster import free_port
from kstore.settings import Settings, SettingsError
from kstore.simulator import options as simulator_options

STATUS_EVERY = 5.0
TRANSFORM_EVERY = 300.0
MAINTAIN_EVERY = 3600.0  # as deploy/systemd/kstore-maintain@.timer (hourly)
JOURNAL_EXPORT_EVERY = 600.0  # as deploy/systemd/kstore-journal-export.timer
GATHERER_GRACE = 3.0  # after the feed ends: let the gatherers read and commit the last frames
FINAL_STEPS = (["dedup", "--once"], ["export", "--once"], ["transform"])


@dataclass(frozen=True)
class Exchange:
    """Where the gatherers connect: the simulator this supervisor starts (both None), or a
    real exchange (decision 0056)."""

    ws_url: str | None = None
    rest_url: str | None = None

    @property
    def simulated(self) -> bool:
        return self.ws_url is None


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


@dataclass
class Job:
    """A one-shot child started every `every` seconds (never restarted when it exits); the
    first run `first` seconds after the supervisor starts."""

    child: Child
    every: float
    first: float
    due: float = field(default=0.0)

    def tick(self, now: float) -> None:
        if now >= self.due and not self.child.alive():
            self.due = now + self.every
            self.child.start()


class _Arguments(argparse.ArgumentParser):
    """argparse whose errors are a SettingsError (one line, exit 1), not an exit."""

    def error(self, message: str):
        raise SettingsError(f"simulator options: {message}")


def check_simulator(simulate_args: list[str]) -> None:
    """Raises on options the simulator child would refuse: its own parser and options model
    (pydantic's one-line reason, as `kstore simulate` gives it), and a truth file it could not
    open, so that a bad option fails `kstore up` before anything starts."""
    args = simulator_options.add_arguments(_Arguments(add_help=False)).parse_args(simulate_args)
    truth = simulator_options.options_from_args(args).truth
    if truth is not None and (truth.is_dir() or not truth.parent.is_dir()):
        raise SettingsError(f"--truth {truth}: not a file in an existing directory")


def last_line(log: Path) -> str:
    """The last line a child wrote to its log (its one-line error, if it failed)."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(handle.seek(0, os.SEEK_END) - 4096, 0))
            lines = handle.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "nothing logged"


def prepare(settings: Settings) -> None:
    topology.up(settings)
    for db in topology.databases(settings):
        migrate.apply(db, settings)
        if db.kind == "production":
            dedup.attach(settings, db)


def kstore_command(config: Path | None) -> list[str]:
    """The kstore CLI for a child, on the parent's settings file."""
    return [sys.executable, "-m", "kstore.cli",
            *(["--config", str(config.resolve())] if config else [])]


def children(settings: Settings, simulate_args: list[str], config: Path | None = None,
             exchange: Exchange = Exchange()) -> list[Child]:
    env = os.environ | {"KSTORE_HOME": str(settings.home.resolve())}
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    cli, made = kstore_command(config), []
    if exchange.simulated:
        port = free_port()
        exchange = Exchange(f"ws://127.0.0.1:{port}/trade-api/ws/v2",
                            f"http://127.0.0.1:{port}/trade-api/v2")
        wait = ["--wait-for-subscribers", str(len(settings.gatherers))]
        made.append(Child("simulator", [*cli, "simulate", "--port", str(port), *wait,
                                        *simulate_args], logs / "simulator.log", env))
    env |= {"KSTORE_KALSHI__WS_URL": exchange.ws_url, "KSTORE_KALSHI__REST_URL": exchange.rest_url}
    made += [Child(gid, [*cli, "gather", "--gatherer", gid], logs / f"{gid}.log", env,
                   heartbeat=heartbeat_path(settings, gid).resolve())
             for gid in settings.gatherers]
    made.append(Child("dedup", [*cli, "dedup"], logs / "dedup.log", env))
    made.append(Child("exporter", [*cli, "export"], logs / "exporter.log", env))
    return made


def jobs(settings: Settings, procs: list[Child], config: Path | None = None) -> list[Job]:
    """The scheduled one-shot children: maintenance at once and hourly, the transform every
    TRANSFORM_EVERY seconds, reconcile every reconcile.interval seconds (decision 0066), the
    closed journal hours to the lake's raw/frames every JOURNAL_EXPORT_EVERY (decision 0080)."""
    env = procs[-1].env
    logs, cli = Path(env["KSTORE_HOME"]) / "logs", kstore_command(config)
    return [Job(Child("maintain", [*cli, "maintain"], logs / "maintain.log", env),
                MAINTAIN_EVERY, 0.0),
            Job(Child("transform", [*cli, "transform"], logs / "transform.log", env),
                TRANSFORM_EVERY, TRANSFORM_EVERY),
            Job(Child("reconcile", [*cli, "reconcile"], logs / "reconcile.log", env),
                settings.reconcile.interval, settings.reconcile.interval),
            Job(Child("journal export", [*cli, "journal", "export"], logs / "journal-export.log",
                      env), JOURNAL_EXPORT_EVERY, JOURNAL_EXPORT_EVERY)]


def run(settings: Settings, simulate_args: list[str], duration: float | None,
        config: Path | None = None, exchange: Exchange = Exchange()) -> int:
    """Supervise until Ctrl-C/SIGTERM, or until `duration` seconds of feed have run out.
    0 when everything was flushed, merged and built; 1 when a step failed or the simulator
    exited with an error."""
    if exchange.simulated:
        check_simulator(simulate_args)
    prepare(settings)
    procs = children(settings, simulate_args, config, exchange)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    for child in procs:
        child.start()
    print(f"kstore up: {', '.join(c.name for c in procs)} started "
          f"({'simulated exchange' if exchange.simulated else exchange.ws_url}); logs in "
          f"{settings.home / 'logs'}", flush=True)
    deadline = None if duration is None or exchange.simulated else time.monotonic() + duration
    scheduled = jobs(settings, procs, config)
    failure = None
    try:
        failure = _supervise(settings, procs, scheduled, duration is not None, deadline, stopping)
    except KeyboardInterrupt:
        pass
    return _shutdown(settings, procs, config, scheduled, failure)


def _supervise(settings: Settings, procs: list[Child], scheduled: list[Job], feed_ends: bool,
               deadline: float | None, stopping: list) -> str | None:
    """Until the feed ends or a stop is asked: None; or why the run failed."""
    simulator = next((c for c in procs if c.name == "simulator"), None)
    started, last_status = time.monotonic(), 0.0
    for job in scheduled:
        job.due = started + job.first
    while not stopping:
        for job in scheduled:
            job.tick(time.monotonic())
        time.sleep(0.5)
        if simulator is not None and not simulator.alive() and simulator.process.returncode:
            return (f"the simulator exited with {simulator.process.returncode}: "
                    f"{last_line(simulator.log)}")
        if _feed_ended(simulator, feed_ends, deadline):
            print("kstore up: the feed ended; flushing", flush=True)
            time.sleep(GATHERER_GRACE)
            return None
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


def _feed_ended(simulator: Child | None, feed_ends: bool, deadline: float | None) -> bool:
    if deadline is not None:
        return time.monotonic() >= deadline
    return feed_ends and simulator is not None and not simulator.alive()


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
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"kstore up: {states} | dedup status unavailable ({reason})"
    merged = sum(row["rows_merged"] for row in cursors)
    lags = [row["lag_s"] for row in cursors if row["lag_s"] is not None]
    errors = sum(1 for row in cursors if row["last_error"])
    return (f"kstore up: {states} | merged {merged} rows, max lag "
            f"{max(lags, default=0):.1f}s, {errors} cursor errors")


def _shutdown(settings: Settings, procs: list[Child], config: Path | None = None,
              scheduled: list[Job] = (), failure: str | None = None) -> int:
    """Gatherers flush first (before their exchange goes away, so they stop cleanly), then the
    other children stop and the deduplicator makes a last pass over everything. After a
    `failure` no final pass: what was captured stays in the gatherers for the next merge."""
    for job in scheduled:  # a transform still running holds the lock the final one needs
        job.child.stop()
    for child in sorted(procs, key=lambda c: c.heartbeat is None):  # gatherers first
        child.stop()
    if failure:
        print(f"kstore up: failed: {failure} (details in {settings.home / 'logs'}); every "
              "gatherer flushed, no final merge", flush=True)
        return 1
    logs = settings.home / "logs"
    for step in FINAL_STEPS:
        with open(logs / f"final-{step[0]}.log", "w") as log:
            final = subprocess.run([*kstore_command(config), *step], env=procs[-1].env,
                                   stdout=log, stderr=subprocess.PIPE, text=True)
            log.write(final.stderr)
        if final.returncode != 0:
            lines = final.stderr.strip().splitlines() or ["no message"]
            print(f"kstore up: final {step[0]} failed: {lines[-1]} (details in "
                  f"{logs / f'final-{step[0]}.log'})", flush=True)
            return 1
    print(status_line(settings, procs), flush=True)
    print("kstore up: stopped; every gatherer flushed and merged, closed windows exported, "
          "layers built", flush=True)
    return 0
