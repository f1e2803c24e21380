"""Dedup keys and newest-wins, as DESIGN §3 declares them, on both storage paths."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from psycopg.types.json import Jsonb

NOW = datetime.now(timezone.utc).replace(microsecond=0)
MS = timedelta(milliseconds=1)

INSERT_DELTA = """
insert into kstore.orderbook_deltas (
    market_ticker, ts, side, price, delta, dup_ordinal, key_scope, use_yes_price,
    sid, seq, received_at, gatherer_id
) values (%s, %s, %s, %s, %s, %s, %s, false, %s, %s, %s, %s)
on conflict do nothing
"""


def delta(gatherer: str, ordinal: int = 0, ts=NOW, scope: str = "", seq: int = 1):
    received = ts + timedelta(milliseconds=3 + ord(gatherer[-1]))
    return ("FED-23DEC-T3.00", ts, "yes", Decimal("0.4200"), Decimal("-54.00"), ordinal, scope,
            seq, seq, received, gatherer)


def count(conn, table: str) -> int:
    return conn.execute(f"select count(*) from kstore.{table}").fetchone()[0]


def test_same_delta_from_three_gatherers_is_one_row(production):
    for seq, gatherer in enumerate(("g1", "g2", "g3"), start=5):
        production.execute(INSERT_DELTA, delta(gatherer, seq=seq))
    assert count(production, "orderbook_deltas") == 1


def test_two_equal_orders_in_one_millisecond_are_two_rows(production):
    for gatherer in ("g1", "g2", "g3"):
        production.execute(INSERT_DELTA, delta(gatherer, ordinal=0))
        production.execute(INSERT_DELTA, delta(gatherer, ordinal=1))
    production.execute(INSERT_DELTA, delta("g1", ordinal=0, ts=NOW + MS))
    assert count(production, "orderbook_deltas") == 3


def test_delta_without_exchange_time_only_matches_its_own_gatherer(production):
    production.execute(INSERT_DELTA, delta("g1", scope="g1"))
    production.execute(INSERT_DELTA, delta("g2", scope="g2"))
    production.execute(INSERT_DELTA, delta("g1", scope="g1"))
    assert count(production, "orderbook_deltas") == 2


def test_a_trade_is_stored_once_whoever_delivers_it(production):
    for gatherer in ("g1", "g2", "g3", "g1"):
        production.execute(
            "insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count,"
            " taker_outcome_side, taker_book_side, gatherer_id)"
            " values ('d91bc706-ee49-470d-82d8-11418bda6fed', %s, 'HIGHNY-22DEC23-B53.5',"
            " '0.3600', '0.6400', '136.00', 'no', 'ask', %s) on conflict do nothing",
            [NOW, gatherer],
        )
    row = production.execute("select yes_price, no_price, count, gatherer_id from kstore.trades")
    assert row.fetchall() == [(Decimal("0.360000"), Decimal("0.640000"), Decimal("136.00"), "g1")]


def test_tickers_differ_by_payload_fingerprint(production):
    for fingerprint in (11, 11, 12):
        production.execute(
            "insert into kstore.tickers (market_ticker, ts, fingerprint, price, gatherer_id)"
            " values ('M', %s, %s, '0.4800', 'g1') on conflict do nothing", [NOW, fingerprint],
        )
    assert count(production, "tickers") == 2


def test_money_survives_exactly(production):
    price, size = Decimal("0.123456"), Decimal("12345678.01")
    production.execute(
        "insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count,"
        " gatherer_id) values (gen_random_uuid(), %s, 'M', %s, 1 - %s, %s, 'g1')",
        [NOW, price, price, size],
    )
    row = production.execute("select yes_price, no_price, count from kstore.trades").fetchone()
    assert row == (price, Decimal("1") - price, size)


def test_inserts_far_outside_premade_partitions_succeed(production):
    far = [datetime(1999, 1, 1, tzinfo=timezone.utc), datetime(2049, 6, 1, tzinfo=timezone.utc)]
    for ts in far:
        production.execute(INSERT_DELTA, delta("g1", ts=ts))
    assert count(production, "orderbook_deltas") == 2
    production.execute("select ops.apply_policies()")
    parts = production.execute(
        "select range_start from ops.partitions()"
        " where table_name = 'kstore.orderbook_deltas'::regclass and range_start <= %s"
        " and range_end > %s", [far[0], far[0]],
    ).fetchall()
    assert len(parts) == 1, "the 1999 row got a partition of its own day"
    assert count(production, "orderbook_deltas") == 2


UPSERT_MARKET = """
insert into kstore.markets (market_ticker, event_ticker, status, updated_time, observed_at, raw)
values (%(ticker)s, 'FED-23DEC', %(status)s, %(updated)s, clock_timestamp(), %(raw)s)
on conflict (market_ticker) do update set
    status = excluded.status, updated_time = excluded.updated_time,
    observed_at = excluded.observed_at, raw = excluded.raw
"""


def market(status: str, updated: datetime) -> dict:
    raw = {"ticker": "FED-23DEC-T3.00", "status": status, "updated_time": updated.isoformat()}
    return {"ticker": "FED-23DEC-T3.00", "status": status, "updated": updated, "raw": Jsonb(raw)}


def current(conn) -> tuple:
    return conn.execute("select status, updated_time, changed_at from kstore.markets").fetchone()


@pytest.mark.parametrize("kind", ["production", "gatherer_rel"])
def test_an_older_market_version_never_replaces_a_newer_one(server, kind):
    import psycopg

    db = server.database(kind)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute(UPSERT_MARKET, market("active", NOW))
        first = current(conn)
        conn.execute(UPSERT_MARKET, market("initialized", NOW - timedelta(hours=1)))
        assert current(conn) == first
        conn.execute(UPSERT_MARKET, market("closed", NOW))  # a tie keeps what is there
        assert current(conn) == first
        conn.execute(UPSERT_MARKET, market("settled", NOW + timedelta(hours=1)))
        assert current(conn)[:2] == ("settled", NOW + timedelta(hours=1))
        if kind == "production":
            history = conn.execute(
                "select raw ->> 'status' from kstore.markets_history order by updated_time, 1"
            ).fetchall()
            assert [row[0] for row in history] == ["initialized", "active", "closed", "settled"]
