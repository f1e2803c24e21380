"""The report of `kstore bench capture`: when a step counts as sustained, the ladders' table,
the ceilings and their ratio (goal: gatherer >= GOAL x drain-only), the latency line, and the
budget: CPU µs per event per process and the rate at which a thread or the machine's cores run
out. Reads the step results kstore.bench.capture measures; measures nothing itself.
"""

from __future__ import annotations

import os

from kstore import audit
from kstore.bench import measure

ACHIEVED = 0.95  # of the offered events/s the simulator must generate for the step to count
GOAL = 0.8  # issue 9: gatherer ceiling >= 0.8x the drain-only ceiling


def ceiling(results: dict[int, dict]) -> int:
    """The highest rate sustained, every lower rate of the ladder sustained too."""
    best = 0
    for rate in sorted(results):
        if not sustained(results[rate]):
            break
        best = rate
    return best


def sustained(result: dict) -> bool:
    """The simulator achieved the rate; nothing dropped by the exchange, (nearly) every event
    read, backlog not growing; the gatherer's rows audit clean (missing, duplicated, extra)."""
    events = result["simulator"].get("events", 0)
    slow = result["slow"] or result["simulator"].get("slow", 0)
    backlog_ok = result.get("backlog_tail", 0) <= result["offered"]
    achieved = result["simulator"].get("events_per_second", 0) >= ACHIEVED * result["offered"]
    return (not slow and backlog_ok and achieved and result["frames"] >= 0.98 * events
            and not audit_errors(result))


def audit_errors(result: dict) -> int:
    """Missing + duplicated + extra rows over the audited tables (0 when not audited)."""
    tables = audit.compared(result.get("audit", {})).values()
    return sum(r["missing"] + r["duplicated"] + r["extra"] for r in tables)


def report(drained: dict[int, dict], ours: dict[int, dict], latency: dict) -> str:
    lines = ["offered/s   achieved/s   drain-only   gatherer   audit errors   backlog tail"
             "   gatherer step"]
    for rate in drained:
        mine = ours.get(rate)
        lines.append(
            f"{rate:>9}   {drained[rate]['simulator'].get('events_per_second', 0):>10.0f}   "
            f"{_mark(drained[rate]):>10}   {_mark(mine) if mine else 'not run':>8}   "
            f"{audit_errors(mine) if mine else '':>12}   "
            f"{mine.get('backlog_tail', 0) if mine else '':>12}   "
            f"{measure.cpu_line(mine['cpu']) if mine else ''}")
    lines += [f"{rate:>9}   audit: {_audit_line(mine['audit'])}" for rate, mine in ours.items()
              if audit_errors(mine)]
    best_drain, best_ours = ceiling(drained), ceiling(ours)
    ratio = best_ours / best_drain if best_drain else float("nan")
    writers = latency["writers"]
    transit = latency["transit"]
    lines += [
        f"sustained: gatherer {best_ours} events/s, drain-only ceiling {best_drain} events/s,"
        f" ratio {ratio:.2f} (goal: >= {GOAL}; met: {ratio >= GOAL})",
        f"latency at 5000 events/s: send->receive p50 {transit['p50_ms']:.1f} ms,"
        f" p99 {transit['p99_ms']:.1f} ms; receive->commit p50 {writers['latency_p50_ms']:.1f}"
        f" ms, p99 {writers['latency_p99_ms']:.1f} ms; send->commit p99 <="
        f" {transit['p99_ms'] + writers['latency_p99_ms']:.1f} ms (target < 250 ms)",
        f"latency step, {measure.cpu_line(latency['cpu'])}",
        *budget(drained, ours),
    ]
    return "\n".join(lines)


def per_event(results: dict[int, dict]) -> dict[str, float]:
    """CPU µs per event of each process (the consumer per frame read, the others per event
    generated; audit excluded): the slope between the lowest and the highest step, so that
    each step's fixed cost (start-up, connecting, shutdown) cancels out; one step: its ratio."""
    low, high = results[min(results)], results[max(results)]
    base = {"frames": 0, "events": 0, "cpu": {}} if low is high else {
        "frames": low["frames"], "events": low["simulator"].get("events", 0), "cpu": low["cpu"]}
    frames = high["frames"] - base["frames"]
    events = high["simulator"].get("events", 0) - base["events"]
    return {name: (seconds - base["cpu"].get(name, 0.0)) * 1e6
            / max(frames if name == "kstore" else events, 1)
            for name, seconds in sorted(high["cpu"].items())}


def budget(drained: dict[int, dict], ours: dict[int, dict]) -> list[str]:
    """Why the ceilings are where they are: CPU µs per event per process, and the rate at
    which the consumer's own thread, the simulator's, or all the machine's cores run out."""
    cores = os.cpu_count() or 1
    lines = []
    for label, results in (("drain-only", drained), ("gatherer", ours)):
        cost = per_event(results)
        if "kstore" not in cost:
            continue
        limits = {"its own thread": 1e6 / cost["kstore"],
                  "the simulator's thread": 1e6 / cost.get("simulator", 1e-9),
                  f"{cores} cores": cores * 1e6 / sum(cost.values())}
        name, limit = min(limits.items(), key=lambda item: item[1])
        lines.append(f"{label}: CPU µs per event: " + ", ".join(
            f"{key} {value:.1f}" for key, value in cost.items())
            + f"; ceiling {limit:,.0f} events/s (bound by {name})")
    return lines


def _audit_line(result: dict) -> str:
    """`orderbook_deltas missing 12, trades extra 1`: the audit's non-zero counts."""
    return ", ".join(f"{table} {count} {n}" for table, r in audit.compared(result).items()
                     for count, n in r.items() if count not in ("truth", "stored") and n)


def _mark(result: dict) -> str:
    """ok; or why not: the simulator fell short of the rate, the audit failed, or the
    consumer fell behind (error 25, events not read, backlog growing)."""
    if sustained(result):
        return "ok"
    if result["simulator"].get("events_per_second", 0) < ACHIEVED * result["offered"]:
        return "sim short"
    return "audit fails" if audit_errors(result) else "falls behind"
