"""kstore reconcile against the simulator and real clusters: three gatherer clusters and a
production cluster (test_dedup's topology), real gatherers capturing the simulated feed, the
real deduplicator, and reconcile connecting as kstore_dedup (production) and
kstore_gatherer_writer (the gatherer it recovers into)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from conftest import PG_BIN, run_kstore
from kstore import dedup, reconcile, roles
from kstore.gatherer.run import Gatherer
from kstore.simulator import SimulatorOptions, SimulatorThread
from kstore.simulator.truth import read_truth
from kstore.testing import DEDUP_ROLES

RECONCILE_ROLES = {"production": roles.DEDUP, "gatherer_ts": roles.GATHERER_WRITER}
WRITER_ROLES = {"gatherer_ts": roles.GATHERER_WRITER, "gatherer_rel": roles.GATHERER_WRITER}



@contextlib.contextmanager
def exchange(tmp_path, gatherers: int = 3, **options):
    """The simulated exchange: a feed of 1,200 events once `gatherers` connections
    subscribed, then only REST (its trade record) until the block ends."""
    opts = dict(port=0, seed=11, markets=6, rate=400, max_events=1200, ping_interval=None,
                truth=tmp_path / "t.jsonl", wait_for_subscribers=gatherers,
                lifecycle_rate=0) | options
    with SimulatorThread(SimulatorOptions(**opts)) as sim:
        yield sim


def capture(scratch, dbs, sim: SimulatorThread, tmp_path, gatherers=("g1", "g2", "g3")):
    """`gatherers` capture the whole feed at once, stopping once it ended and no frame came for
    1.5 s; returns the truth's trades."""
    settings = scratch.settings(dbs, WRITER_ROLES, kalshi={
        "ws_url": sim.ws_url, "rest_url": sim.rest_url}, gather={
        "status_interval": 1, "snapshot_interval": 3600, "registry_interval": 3600})
    running = [Gatherer(settings, g) for g in gatherers]

    async def stop_after_the_feed():
        frames, quiet_since = None, asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(0.1)
            now, seen = asyncio.get_running_loop().time(), [g.stream.counts["frames"] for g in running]
            if seen != frames:
                frames, quiet_since = seen, now
            elif sim.simulator.feed_done.is_set() and now - quiet_since > 1.5:
                break
        for gatherer in running:
            gatherer.health.stop.set()

    async def all_of_them():
        watcher = asyncio.create_task(stop_after_the_feed())
        await asyncio.gather(*(g.run(60) for g in running))
        watcher.cancel()
    asyncio.run(all_of_them())
    assert sim.simulator.feed_done.is_set()
    return [t for t in read_truth(tmp_path / "t.jsonl") if t["table"] == "trades"]


def merge(scratch, dbs) -> None:
    asyncio.run(dedup.Dedup(scratch.settings(dbs, DEDUP_ROLES), 500, interval=0.1).run(once=True))


def reconciled(scratch, dbs, sim: SimulatorThread, **kwargs) -> reconcile.Report:
    settings = scratch.settings(dbs, RECONCILE_ROLES, kalshi={"rest_url": sim.rest_url})
    now = datetime.now(timezone.utc)
    return asyncio.run(reconcile.run(settings, now - timedelta(minutes=5), now, **kwargs))


def rows(db, query: str) -> list[tuple]:
    with psycopg.connect(db.dsn) as conn:
        return conn.execute(query).fetchall()


def stored(db) -> dict[str, tuple]:
    """trade_id -> (ts in ms, source) of every trade row; asserts one row per trade_id."""
    found = rows(db, "select trade_id::text, (extract(epoch from ts) * 1000)::bigint, source "
                     "from kstore.trades")
    assert len(found) == len({r[0] for r in found}), "a trade stored twice"
    return {r[0]: (r[1], r[2]) for r in found}


def truth_keys(trades: list[dict]) -> dict[str, tuple]:
    return {t["trade_id"]: t["ts_ms"] for t in trades}


def test_trade_time_is_the_websockets_ts_ms():
    at = datetime(2026, 3, 1, 12, 0, 5, 123000, tzinfo=timezone.utc)
    assert reconcile.trade_time("2026-03-01T12:00:05.123Z") == at
    assert reconcile.trade_time("2026-03-01T12:00:05.123999Z") == at  # truncated, not rounded
    assert reconcile.trade_time("2026-03-01T14:00:05.1239+02:00") == at
    assert reconcile.trade_time("2026-03-01T12:00:05Z") == at.replace(microsecond=0)
    with pytest.raises(ValueError):
        reconcile.trade_time("2026-03-01 12:00:05")


def test_reconcile_recovers_the_trades_all_three_gatherers_missed(scratch, dbs, tmp_path):
    """The simulator withholds 5% of trades from every connection (and moves trades older
    than 2 s to /historical/trades); reconcile finds exactly those, writes them into g1 as REST
    rows with the WebSocket's ts, the deduplicator merges them, production equals the truth,
    and reconciling again (before and after that merge) changes no data."""
    with exchange(tmp_path, lose_trades=0.05, historical_after=2) as sim:
        trades = capture(scratch, dbs, sim, tmp_path)
        merge(scratch, dbs)
        truth, before = truth_keys(trades), stored(dbs["production"])
        lost = set(truth) - set(before)
        assert len(lost) == sim.simulator.stats["lost"] > 0 and set(before) <= set(truth)

        first = reconciled(scratch, dbs, sim)
        assert first.recovered_into == "g1" and first.clean()
        assert first.totals | {"rest_requests": 0} == {
            "exchange_trades": len(truth), "production_trades": len(before),
            "missing": len(lost), "recovered": len(lost), "unexpected": 0, "duplicated": 0,
            "invalid": 0, "rest_requests": 0}
        g1 = stored(dbs["g1_ts"])
        assert {k for k, (_, source) in g1.items() if source == "rest"} == lost
        again = reconciled(scratch, dbs, sim)  # not merged yet: found missing, written nowhere
        assert again.totals["missing"] == len(lost) and again.totals["recovered"] == 0
        assert stored(dbs["g1_ts"]) == g1

        merge(scratch, dbs)
        after = stored(dbs["production"])
        assert {k: ts for k, (ts, _) in after.items()} == truth
        clean = reconciled(scratch, dbs, sim)
        assert clean.totals["missing"] == clean.totals["recovered"] == 0 and clean.clean()
        merge(scratch, dbs)
        assert stored(dbs["production"]) == after and stored(dbs["g1_ts"]) == g1
    summary = rows(dbs["production"], "select exchange_trades, production_trades, missing, "
                                      "recovered, complete from ops.reconciliation_summary")
    assert summary == [(len(truth), len(truth), 0, 0, True)]


def test_reconcile_never_duplicates_a_trade_the_feed_delivered(scratch, dbs, tmp_path):
    """Only g1 captures (cleanly) and nothing is merged yet: every trade is missing from
    production. Reconcile writes them all into g2 from the REST record; merged with g1's
    WebSocket rows, production holds each trade once: same key, same ts."""
    with exchange(tmp_path, gatherers=1) as sim:
        trades = capture(scratch, dbs, sim, tmp_path, gatherers=("g1",))
        truth = truth_keys(trades)
        assert {k: ts for k, (ts, _) in stored(dbs["g1_ts"]).items()} == truth
        report = reconciled(scratch, dbs, sim, into="g2")
        assert report.totals["missing"] == report.totals["recovered"] == len(truth)
        assert {k: ts for k, (ts, _) in stored(dbs["g2_ts"]).items()} == truth
        merge(scratch, dbs)
        assert {k: ts for k, (ts, _) in stored(dbs["production"]).items()} == truth
        clean = reconciled(scratch, dbs, sim)
        assert clean.clean() and clean.totals | {"rest_requests": 0} == {
            "exchange_trades": len(truth), "production_trades": len(truth), "missing": 0,
            "recovered": 0, "unexpected": 0, "duplicated": 0, "invalid": 0, "rest_requests": 0}


@pytest.mark.parametrize("args, reason", [
    (["--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"],
     "reconcile: --until must be after --since"),
    (["--since", "yesterday"], "reconcile: --since 'yesterday' is not an ISO 8601 time"),
    (["--since", "2026-01-01", "--until", "2026-01-01T01:00", "--into", "g9"],
     "unknown gatherer 'g9'"),
])
def test_bad_input_is_one_line_and_exit_1(args, reason, tmp_path):
    result = run_kstore("reconcile", *args, env={"KSTORE_HOME": str(tmp_path)})
    assert result.returncode == 1 and reason in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
