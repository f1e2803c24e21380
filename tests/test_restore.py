"""Backup and restore as docs/operations.md describes them, with the real pg_dump/pg_restore, on
real clusters while the simulator feeds three gatherers (subprocesses, `kstore gather`) and
the deduplicator merges:

- production restored from a dump taken mid-run (to an earlier point: its dedup cursors travel
  with it) is exact again once the deduplicator catches up: nothing lost, nothing twice;
- a gatherer restored from a mid-run dump into a NEW cluster (its transaction ids restart, so
  `ops.pull` refuses it) is merged again after one command, `kstore rebase --gatherer g1`,
  then captures on, and production ends exact.

The production restore runs on both storage paths: on TimescaleDB as the runbook says, with
timescaledb_pre_restore() before pg_restore and timescaledb_post_restore() after (it skips,
with the reason, where the server has no TimescaleDB). The gatherer restore runs on the plain
path.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from conftest import PG_BIN, REPO_ROOT, kstore_env, run_kstore
from kstore import audit, dedup, migrate
from kstore.roles import GATHERER_WRITER
from kstore.simulator import SimulatorOptions, SimulatorThread
from kstore.testing import ScratchServer, ScratchTopology, role_dsns, storage_paths
from test_dedup import DEDUP_ROLES, running, wait_until

GATHERERS = ("g1", "g2", "g3")
GATHER = {"KSTORE_GATHER__STATUS_INTERVAL": "1", "KSTORE_GATHER__SNAPSHOT_INTERVAL": "3",
          "KSTORE_GATHER__REGISTRY_INTERVAL": "3", "KSTORE_GATHER__BACKOFF_MAX": "1"}

pytestmark = pytest.mark.skipif(not (PG_BIN / "pg_dump").is_file(),
                                reason=f"no pg_dump in {PG_BIN}")


def topology(storage: str):
    reason = storage_paths(PG_BIN)[storage]
    if reason:
        pytest.skip(reason)
    started = ScratchTopology(storage, PG_BIN, GATHERERS).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def scratch():
    yield from topology("plain")


@pytest.fixture(scope="module", params=["plain", "timescaledb"])
def each_path(request):
    yield from topology(request.param)


@pytest.fixture
def dbs(scratch):
    return scratch.fresh()


# ------------------------------------------------------------------------------------ helpers

def simulator(truth: Path, seconds: float, host: str = "127.0.0.1") -> SimulatorThread:
    """The exchange: every event it sends is in `truth`; held until all three subscribed;
    its feed ends after `seconds` of events (the connections stay open). No new markets
    (lifecycle_rate 0): a gatherer subscribes to a new market only once its registry saw it,
    so the first deltas of one would be missed by every gatherer."""
    return SimulatorThread(SimulatorOptions(
        host=host, port=0, seed=11, markets=6, rate=80, max_events=int(80 * seconds),
        truth=truth, ping_interval=None, lifecycle_rate=0,
        wait_for_subscribers=len(GATHERERS)))


def gatherer_env(gid: str, ts_dsn: str, rel_dsn: str, sim_url: str, home: Path) -> dict:
    """A gatherer host's settings: its own two databases only, and the exchange."""
    return {"KSTORE_GATHERERS": '["g1", "g2", "g3"]', "KSTORE_HOME": str(home),
            f"KSTORE_DSN__{gid.upper()}_TS": ts_dsn, f"KSTORE_DSN__{gid.upper()}_REL": rel_dsn,
            "KSTORE_KALSHI__WS_URL": f"ws://{sim_url}/trade-api/ws/v2",
            "KSTORE_KALSHI__REST_URL": f"http://{sim_url}/trade-api/v2"} | GATHER


def start_gatherer(gid: str, env: dict, log: Path, prefix: tuple[str, ...] = ()):
    """`kstore gather` as its own process (optionally inside a network namespace)."""
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "kstore.cli", "gather", "--gatherer", gid],
        env=kstore_env(env) | {"PYTHONPATH": str(REPO_ROOT / "glue")}, cwd=REPO_ROOT,
        stdout=open(log, "a"), stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen, timeout: float = 30) -> int:
    """SIGTERM: the gatherer flushes what it holds and exits."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout)


def trade_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select count(*) from kstore.trades").fetchone()[0]


def trade_ids(dsn: str) -> set:
    with psycopg.connect(dsn) as conn:
        return {row[0] for row in conn.execute("select trade_id from kstore.trades")}


def pg(tool: str, *args: str) -> str:
    done = subprocess.run([str(PG_BIN / tool), *args], capture_output=True, text=True)
    assert done.returncode == 0, f"{tool}: {done.stderr.strip()}"
    return done.stdout


def recreate(admin_dsn: str, dbname: str, drop: bool) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if drop:
            conn.execute(f'drop database "{dbname}" with (force)')
        conn.execute(f'create database "{dbname}"')


def assert_exact(settings, truth: Path) -> dict:
    """Production against everything the simulator sent: nothing missing, twice or extra."""
    result = audit.audit(settings, audit.load_truth(truth), "production")
    assert audit.clean(result), audit.render(result)
    assert result["trades"]["truth"] > 200 and result["orderbook_deltas"]["truth"] > 1000
    return result


def capture(scratch, dbs, tmp_path: Path, sim: SimulatorThread) -> dict:
    """The three gatherers on `dbs`, capturing from `sim` until stopped."""
    dsns = role_dsns(dbs, {"gatherer_ts": GATHERER_WRITER, "gatherer_rel": GATHERER_WRITER})
    url = f"127.0.0.1:{sim.port}"
    return {gid: start_gatherer(gid, gatherer_env(gid, dsns[f"{gid}_ts"], dsns[f"{gid}_rel"],
                                                  url, tmp_path), tmp_path / f"{gid}.log")
            for gid in GATHERERS}


def finish(sim: SimulatorThread, gatherers: dict, ts_dsns: list[str], timeout: float = 150):
    """The feed ends; once the gatherers' databases stop growing (every frame sent is
    written, however loaded the machine), every gatherer stops cleanly."""
    wait_until(sim.sim.feed_done.is_set, timeout, "the feed ends")
    last, steady = None, 0
    while steady < 3:
        time.sleep(1)
        now = sum(rows(dsn) for dsn in ts_dsns)
        steady, last = (steady + 1 if now == last else 0), now
    codes = {gid: stop(process) for gid, process in gatherers.items()}
    assert all(code == 0 for code in codes.values()), codes


def rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select (select count(*) from kstore.trades)"
                            " + (select count(*) from kstore.orderbook_deltas)"
                            " + (select count(*) from kstore.tickers)").fetchone()[0]


def merge_all(scratch, dbs) -> None:
    result = dedup.run(scratch.settings(dbs, DEDUP_ROLES), once=True)
    assert all(r["last_error"] is None for r in result.values()), result


# ------------------------------------------------------------------------------------ tests

def restore_production(scratch, dbs, production, dump: Path) -> None:
    """The runbook's restore of a dump into the database of the same name (dropped first);
    TimescaleDB: the extension, timescaledb_pre_restore() before, timescaledb_post_restore()
    after. Then its step 3, `kstore migrate --target production`: nothing to apply, and the
    re-runnable sql/ and policies/ accept the restored database."""
    recreate(scratch.servers["production"].cluster.dsn(), production.dbname, drop=True)
    timescaledb = scratch.storage == "timescaledb"
    if timescaledb:
        with psycopg.connect(production.dsn, autocommit=True) as conn:
            conn.execute("create extension if not exists timescaledb")
            conn.execute("select timescaledb_pre_restore()")
    pg("pg_restore", "--exit-on-error", "-d", production.dsn, str(dump))
    if timescaledb:
        with psycopg.connect(production.dsn, autocommit=True) as conn:
            conn.execute("select timescaledb_post_restore()")
            assert {row[0] for row in conn.execute(
                "select hypertable_name from timescaledb_information.hypertables")} >= {
                "trades", "orderbook_deltas"}, "the time series are hypertables again"
    assert migrate.apply(production, scratch.settings(dbs)).pending == []


def test_production_restored_from_a_mid_run_dump_is_exact_after_dedup_catches_up(
        each_path, tmp_path):
    scratch, dbs = each_path, each_path.fresh()
    production = dbs["production"]
    dump = tmp_path / "production.dump"
    deduplicator = dedup.Dedup(scratch.settings(dbs, DEDUP_ROLES), 5000, interval=0.2)
    with simulator(tmp_path / "t.jsonl", 40) as sim:
        gatherers = capture(scratch, dbs, tmp_path, sim)
        try:
            with running(deduplicator):
                wait_until(lambda: trade_count(production.dsn) > 50, 60, "trades merged")
                pg("pg_dump", "-Fc", "-f", str(dump), "-d", production.dsn)  # while all run
                at_dump = trade_count(production.dsn)
                wait_until(lambda: trade_count(production.dsn) > at_dump + 10, 60, "more merged")
            # Production lost; restored to the dump's point, into a new database of that name.
            later = trade_count(production.dsn)
            restore_production(scratch, dbs, production, dump)
            restored = trade_count(production.dsn)
            assert restored < later, "the restore went back to an earlier point"
            with running(dedup.Dedup(scratch.settings(dbs, DEDUP_ROLES), 5000, interval=0.2)):
                wait_until(lambda: trade_count(production.dsn) >= later, 60, "re-pulled")
            finish(sim, gatherers, [dbs[f"{g}_ts"].dsn for g in GATHERERS])
        finally:
            for process in gatherers.values():
                stop(process)
    merge_all(scratch, dbs)
    assert_exact(scratch.settings(dbs), tmp_path / "t.jsonl")


def dump_gatherer(dbs, gid: str, old, tmp_path: Path) -> None:
    """Its roles (`pg_dumpall --roles-only`) and both its databases, while it captures."""
    (tmp_path / "roles.sql").write_text(pg("pg_dumpall", "--roles-only", "-d", old.dsn()))
    for short in ("ts", "rel"):
        pg("pg_dump", "-Fc", "-f", str(tmp_path / f"{short}.dump"), "-d", dbs[f"{gid}_{short}"].dsn)


def restore_gatherer(dbs, gid: str, tmp_path: Path) -> tuple[ScratchServer, dict]:
    """The dumps restored into a NEW cluster, roles first; `dbs` with `gid` pointing there."""
    new = ScratchServer("plain", PG_BIN).start()
    subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-d", new.cluster.dsn(), "-f",
                    str(tmp_path / "roles.sql")], capture_output=True, check=True)
    moved = dict(dbs)
    for short in ("ts", "rel"):
        db = dbs[f"{gid}_{short}"]
        recreate(new.cluster.dsn(), db.dbname, drop=False)
        moved[f"{gid}_{short}"] = replace(db, dsn=new.cluster.dsn(db.dbname))
        pg("pg_restore", "--exit-on-error", "--single-transaction", "-d",
           moved[f"{gid}_{short}"].dsn, str(tmp_path / f"{short}.dump"))
    return new, moved


def rebase(scratch, moved: dict, tmp_path: Path) -> None:
    """What the runbook says after the restore: production follows g1 to its new address (as
    `kstore migrate` does from settings), pulls refuse g1, `kstore rebase --gatherer g1`."""
    dedup.attach(scratch.settings(moved), moved["production"])
    with psycopg.connect(moved["production"].dsn_as(dedup.DEDUP), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="cursor is at"):
            conn.execute("select * from ops.pull('g1', 'trades', 1000)")
    env = {f"KSTORE_DSN__{name.upper()}": dsn for name, dsn in role_dsns(moved, {}).items()}
    done = run_kstore("rebase", "--gatherer", "g1", env=env | {"KSTORE_HOME": str(tmp_path)})
    assert done.returncode == 0 and "g1: rebased" in done.stdout, done.stderr
    assert trade_ids(moved["g1_ts"].dsn) <= trade_ids(moved["production"].dsn), \
        "every row of the restored dump is in production"


def test_a_gatherer_restored_into_a_new_cluster_is_merged_again_after_one_command(
        scratch, dbs, tmp_path):
    new = None
    with simulator(tmp_path / "t.jsonl", 120) as sim:
        gatherers = capture(scratch, dbs, tmp_path, sim)
        try:
            with running(dedup.Dedup(scratch.settings(dbs, DEDUP_ROLES), 5000, interval=0.2)):
                wait_until(lambda: trade_count(dbs["production"].dsn) > 50, 60, "merged")
                old = scratch.servers["g1"].cluster
                dump_gatherer(dbs, "g1", old, tmp_path)
                at_dump = trade_count(dbs["g1_ts"].dsn)
                wait_until(lambda: trade_count(dbs["g1_ts"].dsn) > at_dump + 20, 60,
                           "g1 captures past its dump (rows lost with its host)")
                stop(gatherers["g1"])
                old.stop()  # the host is gone
                new, moved = restore_gatherer(dbs, "g1", tmp_path)
            rebase(scratch, moved, tmp_path)
            dsns = role_dsns(moved, {"gatherer_ts": GATHERER_WRITER,
                                     "gatherer_rel": GATHERER_WRITER})
            gatherers["g1"] = start_gatherer("g1", gatherer_env(
                "g1", dsns["g1_ts"], dsns["g1_rel"], f"127.0.0.1:{sim.port}", tmp_path),
                tmp_path / "g1.log")
            before = trade_count(moved["g1_ts"].dsn)
            with running(dedup.Dedup(scratch.settings(moved, DEDUP_ROLES), 5000, interval=0.2)):
                wait_until(lambda: trade_count(moved["g1_ts"].dsn) > before + 20, 60,
                           "g1 captures into its new cluster")
                finish(sim, gatherers, [moved[f"{g}_ts"].dsn for g in GATHERERS])
        finally:
            for process in gatherers.values():
                stop(process)
            scratch.servers["g1"].cluster.start()
    try:
        merge_all(scratch, moved)
        assert trade_ids(moved["g1_ts"].dsn) <= trade_ids(moved["production"].dsn)
        assert_exact(scratch.settings(moved), tmp_path / "t.jsonl")
    finally:
        if new is not None:
            new.stop()


def test_rebase_merges_rows_above_and_below_the_new_horizon_and_repeats_as_a_no_op(
        scratch, dbs, tmp_path):
    from kstore import restore
    from test_dedup import merge_once, production_count, write

    write(dbs["g1_ts"], "trades", range(100))
    ahead = "4294967296000"  # as if g1's transaction ids had restarted below this cursor
    with psycopg.connect(dbs["production"].dsn, autocommit=True) as conn:
        conn.execute("update ops.dedup_cursors set next_xid = %s where gatherer_id = 'g1'",
                     [ahead])
    rebased = {r["table"]: r for r in restore.rebase(scratch.settings(dbs), "g1")}
    assert rebased["trades"]["rows_inserted"] == 100 and production_count(dbs) == 100
    assert int(rebased["trades"]["next_xid"]) < int(ahead), "the cursor follows the gatherer"
    with psycopg.connect(dbs["g1_ts"].dsn) as conn:
        acked = conn.execute("select acked_xid::text from ops.dedup_ack"
                             " where table_name = 'trades'").fetchone()[0]
    assert acked == rebased["trades"]["next_xid"], "retention reads the new cursor"
    again = {r["table"]: r for r in restore.rebase(scratch.settings(dbs), "g1")}
    assert again["trades"]["rows_read"] == 100 and again["trades"]["rows_inserted"] == 0
    write(dbs["g1_ts"], "trades", range(100, 150))
    merge_once(scratch, dbs)
    assert production_count(dbs) == 150


@pytest.mark.parametrize("args, message", [
    (["--gatherer", "g9"], "unknown gatherer 'g9' (configured: g1, g2, g3)"),
    (["--gatherer", "g1", "--since", "yesterday"], "--since: 'yesterday' is not an ISO time"),
])
def test_rebase_bad_input_is_one_line(scratch, dbs, tmp_path, args, message):
    env = {f"KSTORE_DSN__{name.upper()}": dsn for name, dsn in role_dsns(dbs, {}).items()}
    done = run_kstore("rebase", *args, env=env | {"KSTORE_HOME": str(tmp_path)})
    assert done.returncode == 1 and done.stderr.startswith(f"kstore: error: {message}")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
