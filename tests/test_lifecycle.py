"""Lifecycle from the frame (issue 9 item 4, decision 0024): every market_lifecycle_v2 event type
and event_lifecycle, replayed from tests/frames/lifecycle/ into a real gatherer whose REST answers
404 or a stale version, leaves markets/events rows that say what the frame said; a newer REST
version overrides it, an older one only completes it; production's merge carries the result."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from kstore import dedup
from kstore.gatherer import lifecycle
from kstore.gatherer.parse import Invalid
from kstore.gatherer.run import Gatherer
from kstore.simulator import SimulatorOptions, SimulatorThread

FRAMES = Path(__file__).parent / "frames" / "lifecycle"
WRITER = "kstore_gatherer_writer"
STALE = datetime(2026, 1, 1, tzinfo=timezone.utc)
D = Decimal


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def gather(plain_server, frames: Path, production: bool = False) -> dict:
    """A real gatherer on fresh databases fed by the replay of `frames`; its databases by name
    (with `production`, also a production database with the gatherer attached)."""
    dbs = {"g1_ts": plain_server.database("gatherer_ts"),
           "g1_rel": plain_server.database("gatherer_rel")}
    if production:
        dbs["production"] = plain_server.database("production")
    options = SimulatorOptions(port=0, replay=frames, ping_interval=None)
    with SimulatorThread(options) as server:
        settings = plain_server.settings(
            gatherers=["g1"],
            dsn={"g1_ts": dbs["g1_ts"].dsn_as(WRITER), "g1_rel": dbs["g1_rel"].dsn_as(WRITER)},
            kalshi={"ws_url": server.ws_url, "rest_url": server.rest_url},
            gather={"status_interval": 1, "snapshot_interval": 3600, "registry_interval": 3600})
        started, gatherer = datetime.now(timezone.utc), Gatherer(settings, "g1")
        asyncio.run(gatherer.run(2.5))
        assert server.sim.played.is_set()
    dbs["started"], dbs["statuses"] = started, gatherer.registry.statuses
    return dbs


def market(dsn: str, ticker: str, columns: str) -> tuple | None:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"select {columns} from kstore.markets where market_ticker = %s",
                            [ticker]).fetchone()


def with_rest(tmp_path: Path, source: str, ticker: str, answer: dict) -> Path:
    """The fixture `source` with /markets/{ticker} answering `answer` instead."""
    lines = [json.loads(line) for line in (FRAMES / source).read_text().splitlines()]
    lines = [r for r in lines if r.get("path") != f"/markets/{ticker}"]
    lines.insert(1, {"kind": "rest", "path": f"/markets/{ticker}", "body": {"market": answer}})
    path = tmp_path / source
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return path


# -- every event type, with REST stale (or 404 for a market only the frame announces) ---------

LIFECYCLE = "status, version_source, updated_time > %(started)s"
EXPECTED = {  # fixture: (ticker, columns, the row's values)
    "activated": ("KXLC-26DEC-ACTIVATED", "title", ("active", "ws", True, "Stale title")),
    "deactivated": ("KXLC-26DEC-DEACTIVATED", "is_deactivated",
                    ("inactive", "ws", True, True)),
    "close_date_updated": ("KXLC-26DEC-CLOSEDATEUPD", "close_time",
                           ("active", "ws", True, utc(1798761600))),
    "determined": ("KXLC-26DEC-DETERMINED", "result, determination_ts, settlement_value",
                   ("determined", "ws", True, "yes", utc(1796000000), D("1.0000"))),
    "settled": ("KXLC-26DEC-SETTLED", "settlement_ts", ("finalized", "ws", True, utc(1796003600))),
    "fractional_trading_updated": ("KXLC-26DEC-FRACTIONALTR", "fractional_trading_enabled",
                                   ("active", "ws", True, True)),
    "price_level_structure_updated": ("KXLC-26DEC-PRICELEVELST", "price_level_structure",
                                      ("active", "ws", True, "tapered_deci_cent")),
    "metadata_updated": ("KXLC-26DEC-METADATAUPDA", "title, yes_sub_title, market_type",
                         ("active", "ws", True, "New title", "Above 4500", "binary")),
    "created": ("KXLC-26DEC-NEW",
                "event_ticker, series_ticker, title, yes_sub_title, open_time, close_time, "
                "expected_expiration_time, strike_type, floor_strike, price_level_structure, "
                "raw ->> 'rules_primary'",
                ("initialized", "ws", True, "KXLC-26DEC", "KXLC", "Will it rain?", "Rain",
                 utc(1796000000), utc(1796086400), utc(1796090000), "greater", D(4487),
                 "linear_cent", "Resolves YES if it rains.")),
}


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_each_market_event_type_is_stored_from_the_frame(plain_server, fixture):
    ticker, columns, expected = EXPECTED[fixture]
    dbs = gather(plain_server, FRAMES / f"{fixture}.jsonl")
    with psycopg.connect(dbs["g1_rel"].dsn) as conn:
        row = conn.execute(f"select {LIFECYCLE}, {columns} from kstore.markets "
                           "where market_ticker = %(ticker)s",
                           {"started": dbs["started"], "ticker": ticker}).fetchone()
    assert row == expected
    assert dbs["statuses"][ticker] == expected[0], "the registry's status is the row's"


def test_an_event_lifecycle_frame_makes_the_row_rest_does_not_know(plain_server):
    dbs = gather(plain_server, FRAMES / "event_lifecycle.jsonl")
    with psycopg.connect(dbs["g1_rel"].dsn) as conn:
        row = conn.execute(
            "select series_ticker, title, sub_title, collateral_return_type, strike_date, "
            "strike_period, version_source from kstore.events where event_ticker = 'KXLCE-26DEC'"
        ).fetchone()
    assert row == ("KXLCE", "Rain in NYC", "On Dec 26", "MECNET", utc(1798675200), "day", "ws")


# -- REST after the frame: a newer version overrides, an older one only completes --------------

def test_a_newer_rest_version_overrides_the_frame(plain_server, tmp_path):
    ticker = "KXLC-26DEC-DETERMINED"
    newer = {"ticker": ticker, "event_ticker": "KXLC-26DEC", "title": "Fresh",
             "status": "finalized", "result": "yes", "settlement_value_dollars": "1.0000",
             "updated_time": "2031-01-01T00:00:00Z"}
    dbs = gather(plain_server, with_rest(tmp_path, "determined.jsonl", ticker, newer))
    assert market(dbs["g1_rel"].dsn, ticker, "status, title, version_source, updated_time, "
                  "determination_ts, raw ->> 'title'") == (
        "finalized", "Fresh", "rest", datetime(2031, 1, 1, tzinfo=timezone.utc),
        utc(1796000000), "Fresh")


def test_an_older_rest_version_completes_but_never_overwrites_the_frame(plain_server, tmp_path):
    ticker = "KXLC-26DEC-NEW"
    older = {"ticker": ticker, "event_ticker": "KXLC-26DEC", "title": "Old title",
             "market_type": "binary", "status": "active", "yes_bid_dollars": "0.4200",
             "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
             "updated_time": "2026-01-01T00:00:00Z"}
    dbs = gather(plain_server, with_rest(tmp_path, "created.jsonl", ticker, older))
    assert market(dbs["g1_rel"].dsn, ticker, "status, title, market_type, yes_bid, "
                  "version_source, updated_time > now() - interval '1 hour', raw ->> 'title', "
                  "raw -> 'price_ranges' is not null") == (
        "initialized", "Will it rain?", "binary", D("0.42"), "ws", True, "Will it rain?", True)


def test_a_frame_older_than_the_rest_version_changes_nothing(plain_server):
    rel = plain_server.database("gatherer_rel")
    version = lifecycle.read("market_lifecycle_v2", {
        "market_ticker": "KXLC-26DEC-OLD", "event_type": "determined", "result": "no"})
    with psycopg.connect(rel.dsn, autocommit=True) as conn:
        conn.execute("insert into kstore.markets (market_ticker, event_ticker, status, "
                     "updated_time, raw) values ('KXLC-26DEC-OLD', 'KXLC-26DEC', 'active', "
                     "'2031-01-01+00', '{\"status\": \"active\"}')")
        conn.execute(*lifecycle.statement(version, STALE, STALE, {}))
    assert market(rel.dsn, "KXLC-26DEC-OLD", "status, result, version_source") == (
        "active", None, "rest")


def test_a_frame_for_a_market_without_a_row_or_event_writes_nothing(plain_server):
    rel = plain_server.database("gatherer_rel")
    version = lifecycle.read("market_lifecycle_v2", {
        "market_ticker": "KXLC-26DEC-NONE", "event_type": "settled", "settled_ts": 1796003600})
    with psycopg.connect(rel.dsn, autocommit=True) as conn:
        conn.execute(*lifecycle.statement(version, STALE, STALE, {}))
    assert market(rel.dsn, "KXLC-26DEC-NONE", "status") is None


@pytest.mark.parametrize("msg, reason", [
    ({"market_ticker": "KXA", "event_type": "settled", "settled_ts": "1796003600"}, "settled_ts"),
    ({"market_ticker": "KXA", "event_type": "determined", "settlement_value": "one"},
     "settlement_value"),
    ({"market_ticker": "KXA", "event_type": "created", "additional_metadata": []},
     "additional_metadata"),
    ({"market_ticker": "KXA", "event_type": "deactivated", "is_deactivated": "true"},
     "is_deactivated"),
])
def test_an_unreadable_lifecycle_field_is_refused_with_its_name(msg, reason):
    with pytest.raises(Invalid, match=reason):
        lifecycle.read("market_lifecycle_v2", msg)


# -- production ------------------------------------------------------------------------------

def test_the_production_merge_carries_the_frames_version(plain_server):
    dbs = gather(plain_server, FRAMES / "created.jsonl", production=True)
    settings = plain_server.settings(gatherers=["g1"], dsn={
        name: dbs[name].dsn for name in ("g1_ts", "g1_rel", "production")})
    dedup.attach(settings, dbs["production"])
    columns = "market_ticker, status, title, open_time, version_source, updated_time, raw"
    with psycopg.connect(dbs["production"].dsn, autocommit=True) as conn:
        for table in ("events", "markets"):
            conn.execute("select * from ops.pull('g1', %s, 1000)", [table])
        merged = conn.execute(f"select {columns} from kstore.markets").fetchall()
        history = conn.execute("select count(*) from kstore.markets_history "
                               "where raw ->> 'status' = 'initialized'").fetchone()
    assert merged == [market(dbs["g1_rel"].dsn, "KXLC-26DEC-NEW", columns)]
    assert merged[0][1:3] == ("initialized", "Will it rain?") and history == (1,)
