"""Order-book subscriptions within the exchange's limits (issue 11), a real gatherer against
the simulator: error 26 splits a shard, markets that open during a run are added and settled
ones removed without a resubscribe of the rest, several connections share the books, and a
selection beyond the configured limits stops the gatherer with one clear reason."""

from __future__ import annotations

import asyncio

import pytest

from kstore.gatherer.run import Gatherer, GatherFailed
from kstore.simulator.options import SimulatorOptions
from kstore.simulator.runner import SimulatorThread

WRITER = "kstore_gatherer_writer"


def gatherer(plain_server, sim: SimulatorThread, **gather) -> Gatherer:
    ts, rel = plain_server.database("gatherer_ts"), plain_server.database("gatherer_rel")
    settings = plain_server.settings(
        gatherers=["g1"], dsn={"g1_ts": ts.dsn_as(WRITER), "g1_rel": rel.dsn_as(WRITER)},
        kalshi={"ws_url": sim.ws_url, "rest_url": sim.rest_url},
        gather={"status_interval": 1, "snapshot_interval": 3600, "registry_interval": 3600,
                **gather})
    return Gatherer(settings, "g1")


def books_of(sim: SimulatorThread) -> dict[int, list[str]]:
    """The simulator's view: every order-book subscription (connection serial, sid) -> markets."""
    def read():
        return {(s.serial, sub.sid): list(sub.markets) for s in sim.sim.sessions
                for sub in s.subs.values() if sub.channel == "orderbook_delta"}
    return sim.call(read)


def run_looking(found: Gatherer, sim: SimulatorThread, seconds: float, at: float) -> dict:
    """Runs the gatherer for `seconds`; the simulator's subscriptions `at` seconds in."""
    seen: dict = {}

    async def run():
        task = asyncio.create_task(found.run(seconds))
        await asyncio.sleep(at)
        seen.update(books_of(sim))
        await task
    asyncio.run(run())
    return seen


def options(**given) -> SimulatorOptions:
    return SimulatorOptions(**{"port": 0, "seed": 11, "markets": 12, "rate": 300,
                               "ping_interval": None, "lifecycle_rate": 0, **given})


def test_error_26_splits_a_shard_until_the_exchange_accepts_it(plain_server):
    with SimulatorThread(options(subscription_cap=5)) as sim:
        found = gatherer(plain_server, sim, markets_per_subscription=12)
        subscriptions = run_looking(found, sim, 4, 3)
    assert found.shards.counts["error_26"] >= 1 and found.shards.cap <= 5
    assert all(len(markets) <= 5 for markets in subscriptions.values())
    covered = sorted(t for markets in subscriptions.values() for t in markets)
    assert covered == found.registry.subscribable() and len(covered) == 12
    assert found.summary()["failed"] is None


def test_markets_that_open_and_settle_are_added_and_removed_without_a_resubscribe(plain_server):
    with SimulatorThread(options(lifecycle_rate=6, seed=4)) as sim:
        found = gatherer(plain_server, sim, markets_per_subscription=8)
        started: dict = {}

        async def run():
            task = asyncio.create_task(found.run(7))
            await asyncio.sleep(1.5)
            started.update(books_of(sim))
            await asyncio.sleep(4.5)
            after.update(books_of(sim))
            selected.extend(found.registry.subscribable())
            await task
        after: dict = {}
        selected: list = []
        asyncio.run(run())
    counts = found.shards.counts
    assert counts["added"] > 0 and counts["removed"] > 0, counts
    assert set(started) <= set(after), "no subscription was dropped and made again"
    assert sorted(t for markets in after.values() for t in markets) == selected
    assert all(len(markets) <= 8 for markets in after.values())


def test_several_connections_share_the_books_and_one_carries_the_firehose(plain_server):
    with SimulatorThread(options(wait_for_subscribers=2)) as sim:
        found = gatherer(plain_server, sim, connections=2, markets_per_subscription=4)
        subscriptions = run_looking(found, sim, 3, 2)
        channels = found.shards.globals_for(0), found.shards.globals_for(1)
    by_connection = {}
    for (serial, _), markets in subscriptions.items():
        by_connection.setdefault(serial, []).extend(markets)
    assert sorted(len(m) for m in by_connection.values()) == [6, 6]
    assert sorted(t for m in by_connection.values() for t in m) == found.registry.subscribable()
    assert channels == (["market_lifecycle_v2", "trade", "ticker"], [])
    assert found.summary()["connects"] == 2


def test_a_selection_beyond_the_limits_stops_the_gatherer_with_the_reason(plain_server):
    with SimulatorThread(options()) as sim:
        found = gatherer(plain_server, sim, markets_per_subscription=5,
                         subscriptions_per_connection=2)
        with pytest.raises(GatherFailed, match=r"the selection has 12 order books, more than 1 "
                           r"connection\(s\) x 2 subscriptions x 5 markets \(10\)"):
            asyncio.run(found.run(5))
