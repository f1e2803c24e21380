"""What every benchmark reports the same way: the median of its runs and the CPU seconds each
process spent.

- `median` is the true median (statistics.median): the middle run, or for an even number of
  runs the mean of the two middle ones, never the larger of them.
- CPU seconds are per process, never machine-wide: this benchmark process (getrusage: every
  thread, so in-process DuckDB, moto or asyncio loops included), a child process it ran (its
  own rusage, from os.wait4 when it exits), and a PostgreSQL server as its postmaster plus every
  process under it, alive or already reaped (/proc/<pid>/stat utime + stime + cutime + cstime).
  Work another program does on the same machine is not counted. Where /proc is missing, server
  probes are left out.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from kstore.pgcluster import Cluster

# A probe returns the cumulative CPU seconds of one process (or process tree) so far; what a
# piece of work cost is the difference of two readings.
Probe = Callable[[], float]
T = TypeVar("T")
PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def positive(kind: type = int, minimum: float = 1) -> Callable[[str], float]:
    """An argparse type: a number of `kind` not below `minimum` (sizes, runs, seconds), so that
    a bad option is a one-line usage error, not a failure halfway through a benchmark."""
    def parse(text: str):
        value = kind(text)  # ValueError: argparse says "invalid int value: 'x'"
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def median(values: Iterable[float]) -> float:
    """The true median of the runs (mean of the two middle values for an even count)."""
    return statistics.median(list(values))


def spread(ratios: Iterable[float]) -> str:
    """`median 1.23x, range 1.10-1.30x`: how a per-run ratio is printed by every benchmark."""
    values = sorted(ratios)
    return f"median {median(values):.2f}x, range {values[0]:.2f}-{values[-1]:.2f}x"


def this_process() -> float:
    """CPU seconds of the benchmark process itself, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def exited_cpu(process: subprocess.Popen, timeout: float) -> float:
    """Waits for the child `process` to exit (killed after `timeout` seconds) and returns the
    CPU seconds it spent, from its own resource usage (os.wait4): no other child counts."""
    deadline = time.monotonic() + timeout
    while not (done := os.wait4(process.pid, os.WNOHANG))[0]:
        if time.monotonic() > deadline:
            process.kill()
            deadline = float("inf")
        time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(done[1])
    return done[2].ru_utime + done[2].ru_stime


def _stat(pid: int) -> list[str] | None:
    """Fields 3… of /proc/<pid>/stat (after the command name, which may hold spaces)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _children() -> dict[int, list[int]]:
    """Every live process's children, from the parent pid in its /proc/<pid>/stat."""
    tree: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def tree_cpu(root: int) -> float:
    """CPU seconds of process `root` and every process under it, including the children each has
    already reaped (a PostgreSQL backend that ended is in its postmaster's cutime)."""
    tree, pending, ticks = _children(), [root], 0
    while pending:
        pid = pending.pop()
        if (fields := _stat(pid)) is not None:  # utime, stime, cutime, cstime: fields 14-17
            ticks += sum(int(value) for value in fields[11:15])
            pending += tree.get(pid, [])
    return ticks / TICKS


def postgres(cluster: Cluster) -> Probe | None:
    """A probe of the server running `cluster` (re-reads its postmaster.pid at each reading, so
    a restart between runs is followed); None where /proc is not available."""
    if not (PROC / "self" / "stat").is_file():
        return None
    pid_file = cluster.datadir / "postmaster.pid"
    return lambda: tree_cpu(int(pid_file.read_text().split()[0]))


def probes(**named: Probe | None) -> dict[str, Probe]:
    """The probes by process name, without those that cannot run here."""
    return {name: probe for name, probe in named.items() if probe is not None}


def cpu_of(work: Callable[[], T], measured: dict[str, Probe]) -> tuple[T, dict[str, float]]:
    """What work() returns, and the CPU seconds each measured process spent meanwhile."""
    before = {name: probe() for name, probe in measured.items()}
    result = work()
    return result, {name: probe() - before[name] for name, probe in measured.items()}


def timed(work: Callable[[], object],
          measured: dict[str, Probe]) -> tuple[float, dict[str, float]]:
    """Wall seconds of work() and the CPU seconds each measured process spent meanwhile."""
    def run() -> float:
        started = time.perf_counter()
        work()
        return time.perf_counter() - started
    return cpu_of(run, measured)


def median_cpu(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per process, the median of its CPU seconds over the runs."""
    names = dict.fromkeys(name for run in runs for name in run)
    return {name: median(run[name] for run in runs if name in run) for name in names}


@dataclass
class Runs:
    """One variant's runs, one entry each: what it measured (seconds, rows/s, …) and the CPU
    seconds each process spent."""

    values: list[float] = field(default_factory=list)
    cpu: list[dict[str, float]] = field(default_factory=list)

    def add(self, value: float, cpu: dict[str, float]) -> None:
        self.values.append(value)
        self.cpu.append(cpu)

    def median(self) -> float:
        return median(self.values)

    def median_cpu(self) -> dict[str, float]:
        return median_cpu(self.cpu)


def cpu_line(spent: dict[str, float], wall: float | None = None) -> str:
    """`CPU s: kstore 1.20, postgres 3.40 (2.3 cores)`; the cores only with the wall seconds."""
    if not spent:
        return "CPU s: not measured here (no /proc)"
    text = ", ".join(f"{name} {seconds:.2f}" for name, seconds in spent.items())
    cores = f" ({sum(spent.values()) / wall:.1f} cores)" if wall else ""
    return f"CPU s: {text}{cores}"
