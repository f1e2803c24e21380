"""The platform's health, read from its databases: what `kstore status` prints and the
components' Prometheus gauges publish (docs/status.md, decision 0050).

`collect(settings)` returns one report (a dict whose keys docs/status.md fixes, version
SCHEMA_VERSION): every database up or down; per gatherer and table the merge lag
(ops.status_lag: the age of the oldest gatherer row production has not merged, or the time
since the last successful pull when the gatherer cannot be read); per gatherer its newest
captured row, quarantined frames and feed gaps; the lake's freshness per dataset
(ops.status_lake); and the reconciliation and lake-health summaries where those exist. Then
`problems`: every check of CHECKS that fails against the thresholds in `settings.status`;
`healthy` is true when there is none.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg

from kstore import topology
from kstore.lake.export import DEAD_AFTER
from kstore.settings import Settings

SCHEMA_VERSION = 1
PARTS = ("dedup", "gaps", "lake", "extras")  # what collect() reads from production
OPTIONAL = {"reconciliation": "ops.reconciliation", "lake_health": "ops.lake_health"}
TIME_SERIES = {"trades": "ts", "orderbook_deltas": "ts", "tickers": "ts",
               "orderbook_snapshots": "captured_at"}
LAG = "select * from ops.status_lag(%s)"
GAPS = "select * from ops.status_gaps(make_interval(secs => %s))"
LAKE = "select * from ops.status_lake(make_interval(secs => %s), make_interval(secs => %s))"


def collect(settings: Settings, parts: tuple[str, ...] = PARTS) -> dict:
    """The whole report; never raises for a database that is down (that is a problem in it)."""
    databases = topology.status(settings)
    report = {"version": SCHEMA_VERSION, "checked_at": _now(), "healthy": True,
              "problems": [], "databases": databases, "gatherers": [], "dedup": [],
              "lake": [], "reconciliation": None, "lake_health": None, "errors": {}}
    up = {row["name"]: row["up"] for row in databases}
    unreachable = [gid for gid in settings.gatherers
                   if not (up.get(f"{gid}_ts") and up.get(f"{gid}_rel"))]
    if up.get(topology.PRODUCTION):
        try:
            _read_production(settings, report, unreachable, parts)
        except psycopg.Error as exc:  # went down since the probe
            report["errors"]["connect"] = _first_line(exc)
    gaps = report.pop("_gaps", {})
    report["gatherers"] = [_gatherer(settings, gid, up, report["dedup"], gaps.get(gid, {}),
                                     capture="dedup" in parts) for gid in settings.gatherers]
    report["problems"] = [problem for check in CHECKS for problem in check(settings, report)]
    report["healthy"] = not report["problems"]
    return report


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _read_production(settings: Settings, report: dict, unreachable: list[str],
                     parts: tuple[str, ...]) -> None:
    """Each part on its own statement: one that fails (not migrated, no privilege) is noted
    in `report["errors"]` and the others still report."""
    db = topology.database(settings, topology.PRODUCTION)
    s, errors = settings.status, report["errors"]
    readers = {
        "dedup": lambda conn: _rows(conn, LAG, [unreachable]),
        "gaps": lambda conn: _rows(conn, GAPS, [s.gap_open_age]),
        "lake": lambda conn: _rows(conn, LAKE, [settings.lake.close_after,
                                                DEAD_AFTER.total_seconds()]),
        "extras": lambda conn: {key: conn.execute("select ops.status_summary(%s)", [name])
                                .fetchone()[0] for key, name in OPTIONAL.items()},
    }
    with psycopg.connect(db.dsn, connect_timeout=5, autocommit=True,
                         options="-c statement_timeout=60000") as conn:
        for part in parts:
            try:
                found = readers[part](conn)
            except psycopg.Error as exc:
                errors[part] = _first_line(exc)
                continue
            if part == "extras":
                report.update(found)
            else:
                report[part] = found
    report["_gaps"] = {row["gatherer_id"]: row for row in report.pop("gaps", [])}
    report["dedup"] = [_cursor(row) for row in report["dedup"]]


def _rows(conn: psycopg.Connection, query: str, params: list) -> list[dict]:
    cursor = conn.execute(query, params)
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _cursor(row: dict) -> dict:
    """One dedup cursor as the report names it (the names `kstore status --json` always had)."""
    read, merged = row["rows_read"], row["rows_inserted"]
    return {"gatherer": row["gatherer_id"], "table": row["table_name"],
            "lag_s": row["lag_s"], "lag_source": row["lag_source"],
            "oldest_unmerged": row["oldest_unmerged"], "read_error": row["read_error"],
            "caught_up": row["caught_up"], "last_pull_at": row["last_pull_at"],
            "rows_read": read, "rows_merged": merged,
            "duplicate_rate": round(1 - merged / read, 4) if read else 0.0,
            "last_error": row["last_error"], "capture_stopped_at": row["source_stopped_at"]}


def _gatherer(settings: Settings, gid: str, up: dict, dedup: list[dict], gaps: dict,
              capture: bool = True) -> dict:
    """One gatherer: its databases, worst lag, capture state, newest row, quarantine, gaps
    (its own database is read only with `capture`)."""
    cursors = [row for row in dedup if row["gatherer"] == gid]
    lags = [row["lag_s"] for row in cursors if row["lag_s"] is not None]
    worst = max(cursors, key=lambda row: row["lag_s"] or 0, default=None)
    entry = {"gatherer": gid, "ts_up": bool(up.get(f"{gid}_ts")),
             "rel_up": bool(up.get(f"{gid}_rel")),
             "lag_s": max(lags) if lags else None,
             "lag_table": worst["table"] if worst and lags else None,
             "lag_source": worst["lag_source"] if worst else None,
             "stopped": bool(cursors) and all(row["capture_stopped_at"] for row in cursors
                                              if row["table"] in TIME_SERIES),
             "newest_row_at": None, "quarantined_24h": None, "capture_error": None}
    entry |= {f"gaps_{key}": gaps.get(key, 0)
              for key in ("detected", "recovered", "open", "open_old")}
    if capture and entry["ts_up"]:
        try:
            entry |= _capture(topology.database(settings, f"{gid}_ts").dsn)
        except psycopg.Error as exc:
            entry["capture_error"] = _first_line(exc)
    return entry


def _capture(dsn: str) -> dict:
    """The gatherer's newest committed row of the last hour (by transaction, so an index
    answers on both storage paths) and its frames quarantined in the last 24 h."""
    newest = " union all ".join(
        f"(select received_at from kstore.{table} where {column} > now() - interval '1 hour'"
        f" order by xact_id desc limit 1)" for table, column in TIME_SERIES.items())
    with psycopg.connect(dsn, connect_timeout=3, autocommit=True) as conn:
        row = conn.execute(
            f"select (select max(received_at) from ({newest}) as n), (select count(*) from "
            "kstore.quarantine where received_at > now() - interval '24 hours')").fetchone()
    return {"newest_row_at": row[0], "quarantined_24h": row[1]}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ------------------------------------------------------------------------------- the checks
# Each takes (settings, report) and returns the problems it finds, one line each.

def _databases_down(settings: Settings, report: dict) -> list[str]:
    return [f"{row['name']} down: {row['error'] or 'no answer'}"
            for row in report["databases"] if not row["up"]]


def _production_unreadable(settings: Settings, report: dict) -> list[str]:
    return [f"production: cannot read {part}: {error}"
            for part, error in report.get("errors", {}).items()]


def _lag(settings: Settings, report: dict) -> list[str]:
    limit = settings.status.lag_max
    return [f"{row['gatherer']}/{row['table']} merge lag {row['lag_s']:.0f}s > {limit:g}s"
            + (" (since its last pull)" if row["lag_source"] == "last_pull" else "")
            for row in report["dedup"]
            if limit and row["lag_s"] is not None and row["lag_s"] > limit]


def _dedup_stale(settings: Settings, report: dict) -> list[str]:
    """A reachable gatherer the deduplicator has not pulled from for dedup_stale_max."""
    limit, problems = settings.status.dedup_stale_max, []
    for gatherer in report["gatherers"]:
        pulls = [row["last_pull_at"] for row in report["dedup"]
                 if row["gatherer"] == gatherer["gatherer"]]
        if not limit or not pulls or not (gatherer["ts_up"] and gatherer["rel_up"]):
            continue
        if None in pulls:
            problems.append(f"dedup: never pulled every table of {gatherer['gatherer']}")
        elif report["checked_at"] - max(pulls) > timedelta(seconds=limit):
            age = (report["checked_at"] - max(pulls)).total_seconds()
            problems.append(f"dedup: no pull from {gatherer['gatherer']} for {age:.0f}s > "
                            f"{limit:g}s")
    return problems


def _export_stale(settings: Settings, report: dict) -> list[str]:
    limit = settings.status.export_stale_max
    return [f"lake: {row['dataset']}: a closed window ended {row['stale_s']:.0f}s ago is not "
            f"verified (> {limit:g}s: is the exporter running?)"
            for row in report["lake"]
            if limit and row["stale_s"] is not None and row["stale_s"] > limit]


def _gaps_open(settings: Settings, report: dict) -> list[str]:
    s = settings.status
    return [f"{row['gatherer']}: {row['gaps_open_old']} feed gaps open for more than "
            f"{s.gap_open_age:g}s" for row in report["gatherers"]
            if row["gaps_open_old"] > s.gaps_open_max]


def _lake_damaged(settings: Settings, report: dict) -> list[str]:
    """A scrub or `kstore lake verify` found objects it could not repair (ops.lake_health)."""
    damaged = ((report.get("lake_health") or {}).get("totals") or {}).get("damaged") or 0
    return [f"lake: {damaged:g} windows damaged and not re-verified (kstore lake verify)"
            ] if damaged else []


def _reconcile_failed(settings: Settings, report: dict) -> list[str]:
    """`kstore reconcile` found trades production lacks and could not recover, or extra ones."""
    totals = (report.get("reconciliation") or {}).get("totals") or {}
    lost = (totals.get("missing") or 0) - (totals.get("recovered") or 0)
    wrong = (totals.get("unexpected") or 0) + (totals.get("duplicated") or 0)
    return ([f"reconcile: {lost:g} trades missing from production and not recovered"]
            if lost > 0 else []) + ([f"reconcile: {wrong:g} trades unexpected or duplicated"]
                                    if wrong > 0 else [])


CHECKS = (_databases_down, _production_unreadable, _lag, _dedup_stale, _export_stale,
          _gaps_open, _lake_damaged, _reconcile_failed)
