"""The REST budget (kstore.budget, gatherer/rest.py, gatherer/snapshots.py) against the
simulator, which counts every REST request per second and answers 429 above its limit."""

from __future__ import annotations

import asyncio
import time

import httpx
import psycopg
import pytest

from kstore import roles
from kstore.budget import BOOKS, RECONCILE, REGISTRY, Budget
from kstore.gatherer.rest import RestClient
from kstore.gatherer.run import Gatherer
from kstore.gatherer.snapshots import round_plan, snapshot_batch
from kstore.settings import TIER_READS, KalshiSettings, RestSettings
from kstore.simulator import SimulatorOptions, SimulatorThread
from kstore.simulator.ratelimit import RestMeter


def simulate(**options) -> SimulatorThread:
    defaults = dict(port=0, seed=3, markets=30, rate=200, ping_interval=None,
                    wait_for_subscribers=0)
    return SimulatorThread(SimulatorOptions(**(defaults | options)))


def test_the_budget_is_set_per_tier_with_headroom():
    assert RestSettings().rate() == pytest.approx(TIER_READS["basic"] * 0.9)
    assert RestSettings(tier="premier").rate() == pytest.approx(90)
    assert RestSettings(tier="premier", reads_per_second=50, headroom=1).rate() == 50


def test_urgent_requests_are_granted_before_waiting_books():
    async def body() -> list[str]:
        budget, order = Budget(20), []

        async def ask(name: str, priority: int) -> None:
            await budget.acquire(priority)
            order.append(name)
        books = [asyncio.create_task(ask(f"book{i}", BOOKS)) for i in range(4)]
        await asyncio.sleep(0.01)  # book0 granted at once; the others wait
        urgent = [asyncio.create_task(ask("reconcile", RECONCILE)),
                  asyncio.create_task(ask("registry", REGISTRY))]
        await asyncio.gather(*books, *urgent)
        return order
    assert asyncio.run(body()) == ["book0", "registry", "reconcile", "book1", "book2", "book3"]


def test_grants_are_paced_so_no_second_holds_more_than_the_rate():
    async def body() -> list[float]:
        budget, times = Budget(25), []

        async def ask() -> None:
            await budget.acquire(BOOKS)
            times.append(time.monotonic())
        await asyncio.gather(*(ask() for _ in range(60)))
        return times
    times = sorted(asyncio.run(body()))
    assert max(sum(1 for t in times if start <= t < start + 1) for start in times) <= 25
    assert times[-1] - times[0] == pytest.approx(59 / 25, abs=0.3)


def test_the_meter_refuses_above_its_limit_within_any_second():
    meter = RestMeter(3)
    assert [meter.admit(now) for now in (0.0, 0.1, 0.2, 0.3, 1.05, 1.15)] == \
        [True, True, True, False, True, True]
    assert meter.max_window == 3 and sum(meter.refused.values()) == 1


def test_one_book_round_fits_the_basic_budget_at_20000_books():
    tickers = [f"M{i}" for i in range(20_000)]
    calls, spacing = round_plan(tickers, 100, 300, RestSettings().rate(), 0.5)
    assert len(calls) == 200 and sum(map(len, calls)) == 20_000
    assert spacing * len(calls) == pytest.approx(300)  # spread over the interval
    calls, spacing = round_plan(tickers, 1, 300, 18, 0.5)  # one book per call: cannot fit
    assert spacing == pytest.approx(1 / 9) and spacing * len(calls) > 300


def test_books_come_through_the_batch_endpoint():
    rows: list[tuple[str, dict]] = []

    async def body(url: str) -> int:
        rest = RestClient(KalshiSettings(rest_url=url), Budget(50))
        try:
            answer = await rest.get("/markets", {"limit": 1000})
            tickers = [m["ticker"] for m in answer["markets"]]
            await snapshot_batch(rest, tickers + ["NOPE-1"], lambda t, r: rows.append((t, r)), "g1")
            return len(tickers)
        finally:
            await rest.close()
    with simulate() as sim:
        markets = asyncio.run(body(sim.rest_url))
        served = sum(sim.simulator.rest_meter.served.values())
        too_many = httpx.get(f"{sim.rest_url}/markets/orderbooks",
                             params={"tickers": ",".join(f"M{i}" for i in range(101))})
    assert too_many.status_code == 400
    assert served == 2  # the market list and one batch of every book
    assert [t for t, _ in rows] == ["orderbook_snapshots"] * markets


def test_429_answers_back_off_are_counted_and_every_request_is_answered():
    async def body(url: str) -> tuple[int, Budget]:
        budget = Budget(40)  # twice what the exchange allows
        rest = RestClient(KalshiSettings(rest_url=url), budget)
        try:
            answers = await asyncio.gather(*(rest.get("/exchange/status", priority=BOOKS)
                                             for _ in range(30)))
            return len(answers), budget
        finally:
            await rest.close()
    with simulate(rest_rate_limit=10) as sim:
        answered, budget = asyncio.run(body(sim.rest_url))
        meter = sim.simulator.rest_meter
        refused, peak = sum(meter.refused.values()), meter.max_window
    assert answered == 30
    assert budget.counts["throttled"] == refused > 0
    assert budget.metrics()["throttled"] == refused
    assert budget.metrics()["requests"]["books"] == 30 + refused
    assert peak <= 10


def test_a_gatherer_never_exceeds_the_budget(server):
    """Registry load and refreshes, and book polling that wants twice the budget (one book per
    call, 30 books every 0.5 s), in one gatherer: the simulator, limiting at the Basic tier's
    20 reads/s, never counts more than 20 requests within a second and never refuses one."""
    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    writer = roles.GATHERER_WRITER
    with simulate(rest_rate_limit=20, duration=8) as sim:
        settings = server.settings(
            gatherers=["g1"], dsn={"g1_ts": ts.dsn_as(writer), "g1_rel": rel.dsn_as(writer)},
            kalshi={"ws_url": sim.ws_url, "rest_url": sim.rest_url},
            gather={"status_interval": 1, "snapshot_interval": 0.5, "registry_interval": 1},
            rest={"tier": "basic", "book_batch": 1, "book_share": 1})
        summary = asyncio.run(Gatherer(settings, "g1").run(5))
        meter = sim.simulator.rest_meter
        served, refused, peak = dict(meter.served), sum(meter.refused.values()), meter.max_window
    assert refused == 0 and summary["rest_throttled"] == 0
    assert peak <= 20 and max(served.values()) <= 20
    assert sum(served.values()) >= 25  # busy (calls wait for their answers: a loaded machine
    # answers slower than the budget allows, so the figure depends on the machine)
    with psycopg.connect(ts.dsn) as conn:
        books = conn.execute("select count(*) from kstore.orderbook_snapshots "
                             "where source = 'rest'").fetchone()[0]
    assert books >= 20
