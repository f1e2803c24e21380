"""Show whether the platform is healthy: exit 1 when it is not.

For operators: one line per component (production, each gatherer, the deduplicator, the lake,
reconciliation), then each problem found, one line each: a database down, a merge lag over
`status.lag_max`, a deduplicator that stopped pulling, a lake window closed but not exported,
feed gaps left open. Lag is the age of the oldest gatherer row not yet in production (or the
time since the last pull, when the gatherer cannot be read). `--json` prints the same report for
scripts and monitoring, in the schema docs/status.md documents. Exit 0 when healthy, 1 when not.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from kstore import status
from kstore.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON (schema: docs/status.md)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    report = status.collect(settings)
    if args.json:
        print(json.dumps(report, indent=2, default=_json))
    else:
        print(render(report))
    return 0 if report["healthy"] else 1


def _json(value):
    return value.isoformat() if isinstance(value, datetime) else str(value)


def render(report: dict) -> str:
    """The console: one line per component, then one per problem."""
    lines = [_line(name, text, report["problems"], known)
             for name, text, known in components(report)]
    if report["healthy"]:
        lines.append("status: healthy")
    else:
        lines.append(f"status: UNHEALTHY ({len(report['problems'])} problem"
                     f"{'s' if len(report['problems']) != 1 else ''})")
        lines += [f"  ! {problem}" for problem in report["problems"]]
    return "\n".join(lines)


def _line(name: str, text: str, problems: list[str], known: bool) -> str:
    """`ok`, `FAIL` (a problem names the component) or `?` (production could not tell)."""
    bad = any(problem.startswith(tuple(f"{name}{sep}" for sep in "/:_ "))
              for problem in problems)
    state = "FAIL" if bad else "ok" if known else "?"
    return f"{name:<11} {state:<5} {text}"


def components(report: dict) -> list[tuple[str, str, bool]]:
    """(name, line, whether production answered for it) per component."""
    read = bool(report["dedup"])
    found = [("production", _production(report), True)]
    found += [(row["gatherer"], _gatherer(row, report), True) for row in report["gatherers"]]
    found += [("dedup", _dedup(report), read), ("lake", _lake(report), read),
              ("reconcile", _summary(report["reconciliation"], "ops.reconciliation"), read)]
    if report["lake_health"] is not None:
        found.append(("lakeverify", _summary(report["lake_health"], "ops.lake_health"), read))
    return found


def _production(report: dict) -> str:
    row = next((r for r in report["databases"] if r["name"] == "production"), None)
    if row is None or not row["up"]:
        return f"DOWN: {row['error'] if row else 'not configured'}"
    return f"up, {row['storage']}, {row['migrations']} migrations"


def _gatherer(row: dict, report: dict) -> str:
    gid, parts = row["gatherer"], []
    down = [f"{name} DOWN" for name in ("ts", "rel") if not row[f"{name}_up"]]
    parts.append(", ".join(down) if down else "ts, rel up")
    if row["lag_s"] is not None:
        since = " since its last pull" if row["lag_source"] == "last_pull" else ""
        table = f" ({row['lag_table']})" if row["lag_s"] > 0 else ""
        parts.append(f"merge lag {_age(row['lag_s'])}{since}{table}")
    elif any(r["gatherer"] == gid for r in report["dedup"]):
        parts.append("merge lag unknown (never pulled)")
    if row["newest_row_at"] is not None:
        parts.append(f"newest row {_age(_ago(report, row['newest_row_at']))} ago")
    elif row["ts_up"]:
        parts.append("no row in the last hour")
    if row["quarantined_24h"]:
        parts.append(f"quarantined {row['quarantined_24h']} (24h)")
    if report["dedup"]:  # production answered: its merged feed gaps
        parts.append(f"gaps {row['gaps_detected']}, {row['gaps_open']} open")
    if row["stopped"]:
        parts.append("capture stopped")
    return " | ".join(parts)


def _dedup(report: dict) -> str:
    pulls = [row["last_pull_at"] for row in report["dedup"] if row["last_pull_at"]]
    if not report["dedup"]:
        return "no dedup cursors (production down or not migrated)"
    series = [row for row in report["dedup"] if row["table"] in status.TIME_SERIES]
    read, merged = (sum(row[key] for row in series) for key in ("rows_read", "rows_merged"))
    last = f"last pull {_age(_ago(report, max(pulls)))} ago" if pulls else "never pulled"
    share = f", {1 - merged / read:.1%} of rows read were copies" if read else ""
    return f"{last} | {merged:,} time-series rows merged{share}"


def _lake(report: dict) -> str:
    rows = [row for row in report["lake"] if row["grain"] is not None]
    if not rows:
        return "no lake datasets (production down or not migrated)"
    verified = [row["last_verified_end"] for row in rows if row["last_verified_end"]]
    stale = [row for row in rows if row["stale_s"] is not None]
    text = (f"every dataset verified up to {min(verified):%Y-%m-%d %H:%MZ}"
            if len(verified) == len(rows) else
            f"{len(verified)} of {len(rows)} datasets have a verified window")
    if stale:
        worst = max(stale, key=lambda row: row["stale_s"])
        return text + (f" | oldest closed window not verified ended {_age(worst['stale_s'])} "
                       f"ago ({worst['dataset']})")
    return text + " | every closed window verified"


def _summary(summary: dict | None, source: str) -> str:
    """A producer's summary (ops.status_summary), named after the view it counts."""
    if summary is None:
        return f"no results ({source})"
    totals = ", ".join(f"{key} {value:g}" for key, value in sorted(summary["totals"].items()))
    newest = max(summary["newest"].values(), default=None)
    return f"{source}: {summary['rows']} rows" + (f" | {totals}" if totals else "") + \
        (f" | newest {newest}" if newest else "")


def _ago(report: dict, moment: datetime) -> float:
    return max(0.0, (report["checked_at"] - moment).total_seconds())


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
