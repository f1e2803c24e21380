"""The registry at the real exchange's size (issue 11): a large simulated catalogue loaded page
by page with server-side filters, each page in one statement with newest-wins kept, state for the
selection only, the database's selection known before any REST answer, incremental refreshes
with `mve_filter=exclude`."""

from __future__ import annotations

import asyncio
import math
import time

import psycopg

from kstore.budget import Budget
from kstore.gatherer.registry import Registry
from kstore.gatherer.rest import RestClient
from kstore.selection import stored_selection
from kstore.settings import KalshiSettings, SelectionSettings
from kstore.simulator.options import SimulatorOptions
from kstore.simulator.runner import SimulatorThread

WRITER = "kstore_gatherer_writer"
CATALOGUE = dict(port=0, seed=5, markets=8, catalogue=30_000, mve=20_000, rate=10,
                 ping_interval=None, hold_feed=True)


class Changes:
    def __init__(self) -> None:
        self.added: list[str] = []
        self.removed: list[str] = []

    async def __call__(self, added: list[str], removed: list[str]) -> None:
        self.added += added
        self.removed += removed


def registry(sim, dsn: str, changes=None, **selection) -> Registry:
    rest = RestClient(KalshiSettings(rest_url=sim.rest_url), Budget(1000))
    return Registry(dsn, rest, "g1", SelectionSettings(**selection), changes)


def open_markets(universe) -> set[str]:
    return {m.ticker for m in universe.order if m.status == "active" and not m.mve_collection}


def scalar(dsn: str, query: str):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchone()[0]


def test_a_large_catalogue_loads_page_by_page_and_holds_only_the_selection(plain_server):
    rel = plain_server.database("gatherer_rel")
    with SimulatorThread(SimulatorOptions(**CATALOGUE)) as sim:
        changes = Changes()
        found = registry(sim, rel.dsn_as(WRITER), changes, statuses=["open"])

        async def load():
            try:
                await found.load()
            finally:
                await found.rest.close()
        asyncio.run(load())
        truth = open_markets(sim.sim.universe)
        events = sum(1 for e in sim.sim.universe.events.values()
                     if not e.markets or not sim.sim.universe.markets[e.markets[0]].mve_collection)
    assert set(found.subscribable()) == truth and len(truth) > 3_000
    assert set(found.statuses) == truth, "state for the selection, not the catalogue"
    assert sorted(changes.added) == sorted(truth), "every selected market announced as it came"
    pages = math.ceil(len(truth) / 1000) + math.ceil(events / 200) + 1
    assert found.load_stats["requests"] == pages, "maximum pages, MVE filtered on the server"
    assert scalar(rel.dsn, "select count(*) from kstore.markets") == len(truth)
    assert scalar(rel.dsn, "select count(*) from kstore.markets where series_ticker is null") == 0


def test_a_restart_knows_its_selection_before_any_rest_answer_and_drops_what_left(plain_server):
    rel = plain_server.database("gatherer_rel")
    options = CATALOGUE | {"catalogue": 3_000, "mve": 1_000}
    with SimulatorThread(SimulatorOptions(**options)) as sim:
        first = registry(sim, rel.dsn_as(WRITER))
        asyncio.run(first.load())
        universe = sim.sim.universe
        leaving = next(m for m in universe.order if m.status == "active" and not m.mve_collection)
        sim.call(universe.set_status, leaving, "finalized", int(time.time() * 1000))
        changes = Changes()
        second = registry(sim, rel.dsn_as(WRITER), changes)
        primed = asyncio.run(second.prime())
        assert second.rest.requests == 0
        assert primed == first.subscribable()
        asyncio.run(second.load())
    assert leaving.ticker in primed and leaving.ticker not in second.subscribable()
    assert changes.removed == [leaving.ticker] and changes.added == []


def test_the_refresh_asks_for_changes_only_and_follows_them(plain_server):
    rel = plain_server.database("gatherer_rel")
    options = CATALOGUE | {"catalogue": 5_000, "mve": 2_000}
    with SimulatorThread(SimulatorOptions(**options)) as sim:
        changes = Changes()
        found = registry(sim, rel.dsn_as(WRITER), changes, statuses=["open"])
        asyncio.run(found.load())
        universe, now = sim.sim.universe, int(time.time() * 1000) + 120_000
        quiet = [m for m in universe.order if m.quiet and not m.mve_collection]
        opening = next(m for m in quiet if m.status == "initialized")
        closing = next(m for m in quiet if m.status == "active")
        sim.call(universe.set_status, opening, "active", now)
        sim.call(universe.set_status, closing, "closed", now)
        before, added = found.rest.requests, len(changes.added)
        asyncio.run(found.refresh())  # the simulator answers 400 without mve_filter=exclude
        assert found.rest.requests - before == 1, "one page of changes, not the catalogue"
    assert changes.added[added:] == [opening.ticker] and changes.removed == [closing.ticker]
    assert found.statuses[closing.ticker] == "closed"
    assert scalar(rel.dsn, f"select status from kstore.markets "
                           f"where market_ticker = '{closing.ticker}'") == "closed"


def obj(ticker: str, updated: str, title: str, floor="1") -> dict:
    return {"ticker": ticker, "event_ticker": "KXA-E1", "status": "active",
            "updated_time": updated, "title": title, "floor_strike": floor}


def test_a_page_is_one_statement_newest_wins_and_a_bad_object_is_left_alone(plain_server):
    rel = plain_server.database("gatherer_rel")
    found = Registry(rel.dsn_as(WRITER), None, "g1", SelectionSettings())
    newer, older = "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"

    async def pages():
        await found.store("markets", [obj("KXA-E1-B1", newer, "new"), obj("KXA-E1-B2", older, "b"),
                                      obj("KXA-E1-B1", older, "old")], "KXA")
        await found.store("markets", [obj("KXA-E1-B1", older, "stale"),
                                      obj("KXA-E1-B3", older, "bad", floor="not a number"),
                                      obj("KXA-E1-B4", older, "d")], "KXA")
    asyncio.run(pages())
    with psycopg.connect(rel.dsn) as conn:
        rows = conn.execute("select market_ticker, title, series_ticker from kstore.markets "
                            "order by 1").fetchall()
    assert rows == [("KXA-E1-B1", "new", "KXA"), ("KXA-E1-B2", "b", "KXA"),
                    ("KXA-E1-B4", "d", "KXA")]
    assert found.counts["rejected"] == 1
    assert sorted(found.statuses) == ["KXA-E1-B1", "KXA-E1-B2", "KXA-E1-B3", "KXA-E1-B4"], \
        "a market the database refuses still trades on the exchange: its book is captured"


def test_the_stored_selection_applies_every_filter_in_sql(plain_server):
    rel = plain_server.database("gatherer_rel")
    found = Registry(rel.dsn_as(WRITER), None, "g1", SelectionSettings())
    series = [{"ticker": "KXA", "category": "Economics"}, {"ticker": "KXB", "category": "Sports"}]
    markets = [obj("KXA-E1-B1", "2026-01-01T00:00:00Z", "a"),
               obj("KXA-E1-B2", "2026-01-01T00:00:00Z", "b") | {"status": "finalized"},
               obj("KXA-E1-B3", "2026-01-01T00:00:00Z", "c") | {"mve_collection_ticker": "KXMVEC"}]
    others = [obj("KXB-E1-B1", "2026-01-01T00:00:00Z", "d") | {"event_ticker": "KXB-E1"}]

    async def fill():
        await found.store("series", series)
        await found.store("markets", markets, "KXA")
        await found.store("markets", others, "KXB")
    asyncio.run(fill())

    def chosen(**given) -> list[str]:
        with psycopg.connect(rel.dsn) as conn:
            return [r[0] for r in stored_selection(conn, SelectionSettings(**given))]
    assert chosen() == ["KXA-E1-B1", "KXB-E1-B1"]
    assert chosen(categories=["Economics"]) == ["KXA-E1-B1"]
    assert chosen(include_mve=True, series=["KXA"]) == ["KXA-E1-B1", "KXA-E1-B3"]
    assert chosen(statuses=["settled"]) == ["KXA-E1-B2"]
    assert chosen(events=["KXB-E1"]) == ["KXB-E1-B1"]
    assert chosen(tickers=["*-B1"], categories=["Sports"]) == ["KXB-E1-B1"]
