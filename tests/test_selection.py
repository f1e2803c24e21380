"""Market selection (issue 11): the filters select exactly what they say, on objects and on the
simulated exchange (`kstore markets`), MVE markets left out unless asked for, and a selection
beyond the configured limits is refused with one line."""

from __future__ import annotations

import asyncio
import json

import pytest

from kstore import survey
from kstore.selection import Selection, SelectionError, book_round, check_limits
from kstore.settings import GatherSettings, SelectionSettings, load
from kstore.simulator.options import SimulatorOptions
from kstore.simulator.runner import SimulatorThread
from tests.conftest import kstore_env, run_kstore

CATALOGUE = dict(port=0, seed=3, markets=8, catalogue=6_000, mve=4_000, rate=10,
                 ping_interval=None, hold_feed=True)


def market(ticker="KXA-E1-B1", event="KXA-E1", status="active", mve=False) -> dict:
    return {"ticker": ticker, "event_ticker": event, "status": status,
            **({"mve_collection_ticker": "KXMVECOLL1"} if mve else {})}


def selection(category_series=None, **given) -> Selection:
    return Selection(SelectionSettings(**given), category_series)


def test_the_default_selects_markets_that_can_trade_and_leaves_mve_out():
    chosen = selection()
    for status in ("initialized", "active", "inactive"):
        assert chosen.selects_object(market(status=status), "KXA")
    for status in ("closed", "determined", "finalized", "settled", ""):
        assert not chosen.selects_object(market(status=status), "KXA")
    assert not chosen.selects_object(market(mve=True), "KXA")
    assert selection(include_mve=True).selects_object(market(mve=True), "KXA")


def test_each_filter_selects_exactly_what_it_names():
    assert selection(series=["KXA"]).selects_object(market(), "KXA")
    assert not selection(series=["KXA"]).selects_object(market(), "KXB")
    assert not selection(series=["KXA"]).selects_object(market(), None)
    assert selection(events=["KXA-E1"]).selects_object(market(), "KXA")
    assert not selection(events=["KXA-E2"]).selects_object(market(), "KXA")
    assert selection(tickers=["kxa-*-b1"]).selects_object(market(), None)
    assert not selection(tickers=["KXA-*-B2"]).selects_object(market(), None)
    assert selection(statuses=["settled"]).selects_object(market(status="finalized"), None)
    assert not selection(statuses=["settled"]).selects_object(market(), None)
    by_category = selection(frozenset({"KXA"}), categories=["Economics"])
    assert by_category.selects_object(market(), "KXA")
    assert not by_category.selects_object(market(), "KXB")
    both = selection(frozenset({"KXA", "KXB"}), categories=["Economics"], series=["KXB", "KXC"])
    assert both.series == frozenset({"KXB"}), "every filter that is set must match"


def test_the_queries_filter_on_the_server_and_the_refresh_asks_for_mve_exclude():
    assert selection(series=["KXB", "KXA"], statuses=["open"]).queries() == [
        {"mve_filter": "exclude", "series_ticker": "KXA", "status": "open"},
        {"mve_filter": "exclude", "series_ticker": "KXB", "status": "open"}]
    assert selection(include_mve=True, statuses=["open", "paused"]).queries() == [
        {"status": "open"}, {"status": "paused"}]
    assert selection(events=["KXA-E1"]).refresh_queries(1700) == [
        {"mve_filter": "exclude", "event_ticker": "KXA-E1", "min_updated_ts": 1700}]
    assert selection(include_mve=True).refresh_queries(5) == [
        {"min_updated_ts": 5, "mve_filter": "exclude"}]


def test_a_selection_over_the_limits_is_refused_in_one_line():
    gather = GatherSettings(markets_per_subscription=10, subscriptions_per_connection=2,
                            connections=2, selection={"max_books": 50})
    check_limits(40, gather)
    with pytest.raises(SelectionError, match=r"^the selection has 41 order books, more than 2 "
                       r"connection\(s\) x 2 subscriptions x 10 markets \(40\)") as found:
        check_limits(41, gather)
    assert "\n" not in str(found.value)
    with pytest.raises(SelectionError, match="max_books"):
        check_limits(51, gather.model_copy(update={"connections": 9}))
    assert book_round(20_000, 20) == {"calls": 200, "seconds": 10.0}


def test_the_selection_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("KSTORE_GATHER__SELECTION__SERIES", '["KXHIGHNY"]')
    monkeypatch.setenv("KSTORE_GATHER__SELECTION__INCLUDE_MVE", "true")
    chosen = load().gather.selection
    assert (chosen.series, chosen.include_mve, chosen.statuses) == (
        ["KXHIGHNY"], True, ["unopened", "open", "paused"])


def expected(universe, chosen: Selection, categories: dict | None = None) -> dict:
    """The selection computed from the simulator's own universe: the truth."""
    out = {}
    for m in universe.order:
        obj = market(m.ticker, m.event_ticker, m.status, m.mve_collection is not None)
        if chosen.selects_object(obj, m.series_ticker):  # /events does not list MVE events:
            out[m.ticker] = "(unknown)" if m.mve_collection else m.series_ticker  # series unknown
    return out


@pytest.mark.parametrize("given", [
    {}, {"include_mve": True, "statuses": ["open"]}, {"categories": ["Economics", "Sports"]},
    {"series": ["KXCAT00003", "KXSIMCPI"], "statuses": ["unopened", "closed"]},
    {"tickers": ["KXCAT0000*-C00000?-*"]}, {"events": ["KXCAT00000-C000010"]}])
def test_kstore_markets_counts_exactly_the_selected_markets(plain_server, given):
    with SimulatorThread(SimulatorOptions(**CATALOGUE)) as sim:
        settings = plain_server.settings(kalshi={"rest_url": sim.rest_url},
                                         gather={"selection": given})
        report = asyncio.run(survey.survey(settings))
        universe = sim.sim.universe
        series_in = {s.ticker for s in universe.series.values()
                     if s.category in given.get("categories", ())}
        chosen = Selection(SelectionSettings(**given), frozenset(series_in)
                           if "categories" in given else None)
        truth = expected(universe, chosen)
    assert report["books"] == len(truth) > 0
    by_series: dict = {}
    for series in truth.values():
        by_series[series] = by_series.get(series, 0) + 1
    assert report["series"] == by_series
    assert report["refused"] is None


def test_kstore_markets_exits_1_when_the_selection_exceeds_the_limits(tmp_path):
    with SimulatorThread(SimulatorOptions(**CATALOGUE)) as sim:
        env = kstore_env({"KSTORE_HOME": str(tmp_path), "KSTORE_KALSHI__REST_URL": sim.rest_url,
                          "KSTORE_GATHER__SELECTION__MAX_BOOKS": "10"})
        done = run_kstore("markets", "--json", env=env)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["books"] > 10 and "max_books (10)" in report["refused"]
    assert report["rest"]["book_round"]["calls"] == -(-report["books"] // 100)
