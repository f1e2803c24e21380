"""Markets listed during a run (issue 9 item 6, issue 11 item 3, decision 0085): a real
gatherer against the simulator and a real cluster. Every order-book delta the exchange sent
that the gatherer does not hold lies inside a feed_gaps row of that book, whatever hid the
market's listing from it (a reconnect, a lost `created` frame): nothing is missing silently."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg

from kstore import roles
from kstore.gatherer.run import Gatherer
from kstore.simulator import SimulatorOptions, SimulatorThread
from kstore.simulator.generator import LISTING_GRACE_MS
from kstore.simulator.universe import new_market

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NEVER = datetime(9999, 1, 1, tzinfo=timezone.utc)
# The simulated clock (a delta's ts) may trail the gatherer's (a gap's span) by the
# simulator's catch-up batches; a span is widened by this much on each side.
SLACK = timedelta(milliseconds=500)


def simulate(tmp_path, **options) -> SimulatorThread:
    defaults = dict(port=0, seed=5, markets=8, rate=300, duration=8, truth=tmp_path / "t.jsonl",
                    ping_interval=None, lifecycle_rate=0)
    return SimulatorThread(SimulatorOptions(**(defaults | options)))


def gatherer(plain_server, sim: SimulatorThread, **gather) -> tuple[Gatherer, str]:
    ts, rel = plain_server.database("gatherer_ts"), plain_server.database("gatherer_rel")
    writer = roles.GATHERER_WRITER
    settings = plain_server.settings(
        gatherers=["g1"], dsn={"g1_ts": ts.dsn_as(writer), "g1_rel": rel.dsn_as(writer)},
        kalshi={"ws_url": sim.ws_url, "rest_url": sim.rest_url},
        gather={"status_interval": 1, "snapshot_interval": 3600, "backoff_max": 1} | gather)
    return Gatherer(settings, "g1"), ts.dsn


def _key(market, ts, side, price, delta) -> tuple:
    return market, ts, side, Decimal(price).normalize(), Decimal(delta).normalize()


def unexplained_deltas(truth_path, dsn: str) -> tuple[int, list]:
    """(deltas missing from the gatherer, those outside every feed_gaps span of their book)."""
    sent: Counter = Counter()
    for line in open(truth_path):
        event = json.loads(line)
        if event["table"] == "orderbook_deltas":
            sent[_key(event["market_ticker"], EPOCH + timedelta(milliseconds=event["ts_ms"]),
                      event["side"], event["price_dollars"], event["delta_fp"])] += 1
    with psycopg.connect(dsn) as conn:
        held = Counter(_key(*row) for row in conn.execute(
            "select market_ticker, ts, side, case when use_yes_price and side = 'no'"
            " then 1 - price else price end, delta from kstore.orderbook_deltas"))
        spans = conn.execute(
            "select market_ticker, last_frame_at, recovered_at from kstore.feed_gaps"
            " where market_ticker is not null").fetchall()
    missing = [key for key, n in sent.items() for _ in range(n - held[key])]
    outside = [key for key in missing if not any(
        market == key[0] and (start or EPOCH) - SLACK <= key[1] <= (end or NEVER) + SLACK
        for market, start, end in spans)]
    return len(missing), outside


def run_listing_unseen(sim: SimulatorThread, found: Gatherer, seconds: float) -> str:
    """Runs the gatherer; once its registry is loaded and the feed flows, the exchange lists
    a market whose `created` frame never reaches it (lost): only REST can tell about it."""
    def list_without_frame() -> str:
        generator = sim.sim.generator
        event = next(iter(generator.universe.events.values()))
        listed = generator.ts_for(generator.index) - LISTING_GRACE_MS  # trades at once
        return new_market(generator.universe, generator.rng, event, listed).ticker

    async def run() -> str:
        task = asyncio.create_task(found.run(seconds))
        while not (found.registry.loaded.is_set() and sim.sim.feed_started.is_set()):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        ticker = sim.call(list_without_frame)
        await task
        return ticker
    return asyncio.run(run())


def test_a_market_listed_unseen_is_a_gap_until_its_first_snapshot(plain_server, tmp_path):
    with simulate(tmp_path) as sim:
        found, ts = gatherer(plain_server, sim, registry_interval=4)
        ticker = run_listing_unseen(sim, found, 10)  # past the feed's end: all of it read

    missing, outside = unexplained_deltas(tmp_path / "t.jsonl", ts)
    assert missing > 0, "the market traded before the registry's refresh found it"
    assert outside == [], f"{len(outside)} of {missing} missing deltas in no feed_gaps span"
    with psycopg.connect(ts) as conn:
        rows = conn.execute(
            "select cause, channel, sid, last_frame_at, resumed_at, recovered_at, recovery"
            " from kstore.feed_gaps where market_ticker = %s and cause <> 'closed'",
            [ticker]).fetchall()  # the simulator's end of feed closes every book
        first = conn.execute("select min(captured_at) from kstore.orderbook_snapshots"
                             " where market_ticker = %s and source = 'ws'", [ticker]).fetchone()[0]
    [(cause, channel, sid, since, resumed, recovered, recovery)] = rows
    assert (cause, channel, sid, recovery) == ("not_subscribed", "orderbook_delta", 0, "subscribe")
    assert since is not None and since < resumed == first <= recovered, rows


def test_markets_listed_across_reconnects_miss_nothing_silently(plain_server, tmp_path):
    """A `created` frame sent while the gatherer reconnects is lost with the rest of the
    break; the registry asks REST at once after each reconnect, not at its next refresh
    (60 s here), so such a market is subscribed a round trip later (the simulator lists a
    market 2 s before its first order), and one already trading is a gap until then."""
    with simulate(tmp_path, faults="disconnects", disconnect_every=1.5,
                  lifecycle_rate=8) as sim:
        found, ts = gatherer(plain_server, sim, registry_interval=60)
        ticker = run_listing_unseen(sim, found, 10)

    missing, outside = unexplained_deltas(tmp_path / "t.jsonl", ts)
    assert found.summary()["connects"] >= 4
    assert outside == [], f"{len(outside)} of {missing} missing deltas in no feed_gaps span"
    truth = [json.loads(line) for line in open(tmp_path / "t.jsonl")]
    listed = {e["market_ticker"] for e in truth
              if e["table"] == "markets" and e.get("event_type") == "created"} | {ticker}
    traded = {e["market_ticker"] for e in truth if e["table"] == "orderbook_deltas"}
    with psycopg.connect(ts) as conn:
        based = {m for (m,) in conn.execute(
            "select distinct market_ticker from kstore.orderbook_snapshots where source = 'ws'")}
    assert listed & traded <= based, "every market listed and traded has a book on this gatherer"
    with psycopg.connect(ts) as conn:
        causes = {c for (c,) in conn.execute(
            "select cause from kstore.feed_gaps where market_ticker = %s", [ticker])}
    assert "not_subscribed" in causes, "found by the refresh after a reconnect, not at 60 s"
