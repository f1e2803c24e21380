"""`kstore audit` covers the run its truth file describes, both ends (decisions 0055, 0088):
two simulator runs into one gatherer, each run's truth audits clean, and a row fabricated
inside a run's span is still extra for that run and out of the other's."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg
import pytest

from kstore import audit, roles
from kstore.gatherer.run import Gatherer
from kstore.simulator import SimulatorOptions, SimulatorThread

WRITER = roles.GATHERER_WRITER


def run_into(server, dsns: dict, truth, seconds: float = 3):
    """One simulator run (wall-clock anchor, so its own trade ids and markets) captured by g1."""
    options = SimulatorOptions(port=0, seed=7, markets=6, rate=300, duration=seconds,
                               truth=truth, ping_interval=None, lifecycle_rate=2.0)
    with SimulatorThread(options) as sim:
        settings = server.settings(
            gatherers=["g1"], dsn=dsns, kalshi={"ws_url": sim.ws_url, "rest_url": sim.rest_url},
            gather={"status_interval": 1, "snapshot_interval": 1, "registry_interval": 1,
                    "backoff_max": 1})
        asyncio.run(Gatherer(settings, "g1").run(seconds + 1.5))
    return settings


def fabricate(ts_dsn: str, rel_dsn: str, at) -> None:
    """A trade, a delta and a market the exchange never sent, all at exchange time `at`."""
    with psycopg.connect(ts_dsn) as conn:
        for table, change in (("trades", "trade_id = gen_random_uuid(), ts = %(at)s"),
                              ("orderbook_deltas", "delta = 99999, ts = %(at)s")):
            conn.execute(f"create temp table fake as select * from kstore.{table} limit 1")
            conn.execute(f"update fake set {change}", {"at": at})
            conn.execute(f"insert into kstore.{table} select * from fake")
            conn.execute("drop table fake")
    with psycopg.connect(rel_dsn) as conn:
        conn.execute("insert into kstore.markets (market_ticker, event_ticker, status, "
                     "updated_time, raw) values ('KXFAKE-26DEC06-B1', 'KXFAKE-26DEC06', "
                     "'active', %s, '{}')", [at])


def off(result: dict) -> dict:
    """Per compared table, the counts that are not zero besides truth and stored."""
    return {table: {k: v for k, v in counts.items() if k not in ("truth", "stored") and v}
            for table, counts in audit.compared(result).items()
            if any(counts[k] for k in ("missing", "duplicated", "extra", "mismatched"))}


@pytest.fixture
def g1(server):
    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    return {"g1_ts": ts.dsn_as(WRITER), "g1_rel": rel.dsn_as(WRITER)}, ts, rel


def test_each_run_audits_clean_and_a_fabricated_row_is_extra_in_its_run(server, g1, tmp_path):
    dsns, ts, rel = g1
    truths = [tmp_path / "first.jsonl", tmp_path / "second.jsonl"]
    settings = [run_into(server, dsns, truth) for truth in truths][-1]
    loaded = [audit.load_truth(truth) for truth in truths]
    (first_since, first_until), (second_since, _) = (t[audit.SPAN][0] for t in loaded)
    assert first_until < second_since, "the second run starts after the first ended"

    results = [audit.audit(settings, truth, "g1") for truth in loaded]
    for result in results:
        assert off(result) == {}, audit.render(result)
        trades = result["trades"]
        assert trades["stored"] == trades["truth"] > 0, "only the run's own trades are counted"
        assert result["markets"]["stored"] == result["markets"]["truth"] > 0

    fabricate(ts.dsn, rel.dsn, first_since + (first_until - first_since) / 2)
    first = audit.audit(settings, loaded[0], "g1")
    assert off(first) == {"trades": {"extra": 1}, "orderbook_deltas": {"extra": 1},
                          "markets": {"extra": 1}}, audit.render(first)
    assert off(audit.audit(settings, loaded[1], "g1")) == {}, "the first run's span only"


def test_the_span_ends_are_inclusive(server, g1, tmp_path):
    """A row at exactly the run's first or last exchange time is the run's: extra if fabricated;
    one millisecond past the last is another run's."""
    dsns, ts, rel = g1
    truth = tmp_path / "t.jsonl"
    settings = run_into(server, dsns, truth, seconds=2)
    loaded = audit.load_truth(truth)
    since, until = loaded[audit.SPAN][0]
    assert off(audit.audit(settings, loaded, "g1")) == {}
    with psycopg.connect(ts.dsn) as conn:
        for at in (since, until, until + timedelta(milliseconds=1)):
            conn.execute("create temp table fake as select * from kstore.trades limit 1")
            conn.execute("update fake set trade_id = gen_random_uuid(), ts = %s", [at])
            conn.execute("insert into kstore.trades select * from fake")
            conn.execute("drop table fake")
    assert off(audit.audit(settings, loaded, "g1")) == {"trades": {"extra": 2}}
