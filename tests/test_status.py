"""`kstore status` tells the truth (docs/status.md): on real clusters (three gatherer clusters
and production reading them through postgres_fdw), merge lag is the age of the oldest gatherer
row not yet merged, so it grows while a gatherer's horizon is held by an open transaction and
while a gatherer's cluster is down (then as the time since the last pull); the exit code is 1
whenever something is unhealthy; `--json` has exactly the documented keys."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from conftest import PG_BIN, REPO_ROOT, run_kstore
from kstore import status
from kstore.testing import role_dsns
from test_dedup import INSERTS, WRITER, merge_once, write

QUIET = {"KSTORE_STATUS__EXPORT_STALE_MAX": "0"}  # no exporter runs in these tests



def cli_env(dbs, tmp_path: Path, **extra: str) -> dict:
    """The CLI's settings: every database by DSN (as its owner), an empty home."""
    env = {f"KSTORE_DSN__{name.upper()}": dsn for name, dsn in role_dsns(dbs, {}).items()}
    return env | {"KSTORE_HOME": str(tmp_path)} | QUIET | extra


def kstore_status(env: dict) -> tuple[int, dict]:
    done = run_kstore("status", "--json", env=env)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def lag(report: dict, gid: str, table: str = "trades") -> dict:
    return next(r for r in report["dedup"] if r["gatherer"] == gid and r["table"] == table)


def merged_everything(scratch, dbs) -> None:
    for gid in ("g1", "g2", "g3"):
        write(dbs[f"{gid}_ts"], "trades", range(10))
    merge_once(scratch, dbs)


def test_healthy_then_a_held_horizon_makes_lag_grow_and_status_fail(scratch, dbs, tmp_path):
    merged_everything(scratch, dbs)
    env = cli_env(dbs, tmp_path, KSTORE_STATUS__LAG_MAX="2")
    code, report = kstore_status(env)
    assert (code, report["problems"]) == (0, []) and report["healthy"]
    assert lag(report, "g1")["lag_s"] == 0 and lag(report, "g1")["lag_source"] == "rows"

    with psycopg.connect(dbs["g1_ts"].dsn_as(WRITER)) as held:  # a transaction left open
        write(dbs["g1_ts"], "trades", range(100, 101), conn=held)
        write(dbs["g1_ts"], "trades", range(200, 210))  # committed behind the held horizon
        merge_once(scratch, dbs)
        first = lag(kstore_status(env)[1], "g1")
        time.sleep(2.5)
        code, report = kstore_status(env)
        second = lag(report, "g1")
        assert second["lag_source"] == "rows" and second["caught_up"]
        assert second["lag_s"] >= first["lag_s"] + 2, "the lag grows while the horizon is held"
        assert code == 1 and any(p.startswith("g1/trades merge lag") for p in report["problems"])
        with psycopg.connect(dbs["production"].dsn_as("kstore_analyst")) as analyst:
            source, seconds = analyst.execute(
                "select lag_source, lag_s from ops.status_lag() where gatherer_id = 'g1'"
                " and table_name = 'trades'").fetchone()
        assert source == "rows" and seconds >= 2, "the analyst sees the true lag too"
        console = run_kstore("status", env=env)
        assert console.returncode == 1 and "g1          FAIL" in console.stdout
        assert "status: UNHEALTHY" in console.stdout and "Traceback" not in console.stderr
        held.commit()

    merge_once(scratch, dbs)
    code, report = kstore_status(env)
    assert (code, lag(report, "g1")["lag_s"]) == (0, 0), "committed and merged: no lag"


def test_a_downed_gatherer_cluster_fails_status_and_its_lag_grows(scratch, dbs, tmp_path):
    merged_everything(scratch, dbs)
    env = cli_env(dbs, tmp_path, KSTORE_STATUS__LAG_MAX="3")
    cluster = scratch.servers["g2"].cluster
    cluster.stop()
    try:
        code, report = kstore_status(env)
        assert code == 1
        assert {"g2_ts", "g2_rel"} <= {p.split()[0] for p in report["problems"]}
        first = lag(report, "g2")
        assert first["lag_source"] == "last_pull" and first["read_error"] == "unreachable"
        assert lag(report, "g1")["lag_source"] == "rows", "the others are read as usual"
        # Production's own view, without the CLI's probe: its read fails, it falls back.
        with psycopg.connect(dbs["production"].dsn, autocommit=True) as conn:
            rows = conn.execute("select table_name, lag_source, read_error from "
                                "ops.status_lag() where gatherer_id = 'g2'").fetchall()
        assert rows and all(source == "last_pull" and error for _, source, error in rows)
        time.sleep(3.5)
        code, report = kstore_status(env)
        assert lag(report, "g2")["lag_s"] >= first["lag_s"] + 3
        assert any(p.startswith("g2/trades merge lag") and "since its last pull" in p
                   for p in report["problems"])
    finally:
        cluster.start()
    merge_once(scratch, dbs)
    assert kstore_status(env)[0] == 0


def test_every_database_down_exits_non_zero_with_one_line_per_component(tmp_path):
    env = {"KSTORE_HOME": str(tmp_path)} | {
        f"KSTORE_DSN__{name}": "host=127.0.0.1 port=1 dbname=x user=x connect_timeout=1"
        for name in ("G1_TS", "G1_REL", "PRODUCTION")} | {"KSTORE_GATHERERS": '["g1"]'}
    done = run_kstore("status", env=env)
    assert done.returncode == 1 and not done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines() if not line.startswith(" ")]
    assert names == ["production", "g1", "dedup", "lake", "reconcile", "status:"]
    report = json.loads(run_kstore("status", "--json", env=env).stdout)
    assert not report["healthy"] and len(report["problems"]) == 3


def test_a_stalled_export_fails_status_until_the_lake_holds_every_closed_window(
        scratch, dbs, tmp_path):
    merged_everything(scratch, dbs)
    with psycopg.connect(dbs["g1_ts"].dsn_as(WRITER), autocommit=True) as conn:
        conn.execute(INSERTS["trades"], {"ids": list(range(500, 510)), "gid": "g1",
                                         "base": status._now() - timedelta(days=2),
                                         "received": None})
    merge_once(scratch, dbs)
    env = cli_env(dbs, tmp_path, KSTORE_STATUS__EXPORT_STALE_MAX="600")
    code, report = kstore_status(env)
    trades = next(row for row in report["lake"] if row["dataset"] == "trades")
    assert code == 1 and trades["stale_s"] > 47 * 3600 and trades["last_verified_end"] is None
    assert any(p.startswith("lake: trades: a closed window") for p in report["problems"])

    exported = run_kstore("export", "--once", env=env, timeout=300)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    code, report = kstore_status(env)
    trades = next(row for row in report["lake"] if row["dataset"] == "trades")
    assert (code, trades["stale_s"], trades["unverified"]) == (0, None, 0), report["problems"]
    assert trades["last_verified_end"] is not None


def test_a_feed_gap_left_open_fails_status_until_it_is_recovered(scratch, dbs, tmp_path):
    merged_everything(scratch, dbs)
    env = cli_env(dbs, tmp_path, KSTORE_STATUS__GAP_OPEN_AGE="60")
    gap = ("insert into kstore.feed_gaps (gatherer_id, gap_id, connection_id, sid, channel,"
           " detected_at, cause) values ('g3', %s, 'c1', 1, 'orderbook_delta', %s, 'silence')")
    with psycopg.connect(dbs["production"].dsn, autocommit=True) as conn:
        conn.execute(gap, [1, status._now() - timedelta(minutes=5)])  # open for 5 minutes
        conn.execute(gap, [2, status._now()])  # just detected: its recovery may be coming
    code, report = kstore_status(env)
    g3 = next(row for row in report["gatherers"] if row["gatherer"] == "g3")
    assert (g3["gaps_detected"], g3["gaps_open"], g3["gaps_open_old"]) == (2, 2, 1)
    assert code == 1 and report["problems"] == [
        "g3: 1 feed gaps open for more than 60s"]
    with psycopg.connect(dbs["production"].dsn, autocommit=True) as conn:
        conn.execute("update kstore.feed_gaps set recovered_at = now(), recovery = 'resubscribe'"
                     " where gap_id = 1")
    assert kstore_status(env)[0] == 0


def documented_keys() -> dict[str, set[str]]:
    """docs/status.md: under each `### <path>` heading, a table whose rows start with a key."""
    keys: dict[str, set[str]] = {}
    heading = None
    for line in (REPO_ROOT / "docs" / "status.md").read_text().splitlines():
        if match := re.match(r"^### `(.+)`", line):
            heading = match.group(1)
            keys[heading] = set()
        elif line.startswith("#"):
            heading = None
        elif heading and (match := re.match(r"^\| `([a-z_0-9]+)` \|", line)):
            keys[heading].add(match.group(1))
    return keys


def test_the_json_report_has_exactly_the_documented_keys(scratch, dbs, tmp_path):
    merged_everything(scratch, dbs)
    with psycopg.connect(dbs["production"].dsn, autocommit=True) as conn:  # a reconciliation
        run = conn.execute("insert into ops.reconciliation_runs (since, until) values "
                           "(now() - interval '2 hours', now()) returning run_id").fetchone()[0]
        conn.execute("insert into ops.reconciliation (hour, market_ticker, exchange_trades,"
                     " production_trades, missing, unexpected, duplicated, run_id) values"
                     " (date_trunc('hour', now()), 'A', 2, 0, 2, 0, 0, %(r)s),"
                     " (date_trunc('hour', now()), 'B', 3, 0, 3, 0, 0, %(r)s)", {"r": run})
    code, report = kstore_status(cli_env(dbs, tmp_path))
    documented = documented_keys()
    assert set(report) == documented["report"]
    for section in ("databases", "dedup", "gatherers", "lake"):
        assert report[section], section
        assert all(set(row) == documented[f"{section}[]"] for row in report[section]), section
    assert set(report["reconciliation"]) == documented["reconciliation"]
    assert report["reconciliation"]["totals"]["missing"] == 5
    assert "run_id" not in report["reconciliation"]["totals"], "a sum of ids means nothing"
    assert set(report["lake_health"]) == documented["reconciliation"]  # the same shape
    assert report["version"] == status.SCHEMA_VERSION
    assert "reconcile: 5 trades missing from production and not recovered" in report["problems"]
    assert {row["dataset"] for row in report["lake"]} >= {"trades", "markets"}
