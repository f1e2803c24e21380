"""Conformance: frame files written from KALSHI-API.md (tests/frames/conformance/) replayed byte
for byte into a real gatherer and real clusters. Every record says what it must become
(`expect`: `row`, or `quarantine:<text of the reason>`); each bad frame is followed by a valid
canary ticker, which must be stored (decision 0023)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest

from kstore.gatherer.parse import Frame
from kstore.gatherer.rows import Row
from kstore.gatherer.stream import Stream
from kstore.simulator.replay_file import load
from test_replay import ANCHOR_MS, FED, NY, at, gather_replay, stored
from test_writer import delta as delta_row, put_all, rows_of, run, ts_dsn  # noqa: F401 (fixture)

CONFORMANCE = Path(__file__).parent / "frames" / "conformance"
FILES = sorted(path.name for path in CONFORMANCE.glob("*.jsonl"))
TABLES = {"orderbook_snapshot": "orderbook_snapshots", "orderbook_delta": "orderbook_deltas",
          "trade": "trades", "ticker": "tickers"}


def expectations(name: str) -> list[tuple[bytes, str]]:
    """(exact bytes as replayed, expectation) of every frame of the file, in order."""
    path = CONFORMANCE / name
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    frames = [r for r in records if r.get("kind", "text") in ("text", "binary")]
    steps = load(path).scripts[0].steps
    assert len(steps) == len(frames) and all("expect" in r for r in frames), name
    return [(step.render(ANCHOR_MS), record["expect"]) for step, record in zip(steps, frames)]


def expected_rows(name: str) -> dict[str, int]:
    counts = {table: 0 for table in TABLES.values()}
    for raw, expect in expectations(name):
        if expect == "row":
            counts[TABLES[json.loads(raw)["type"]]] += 1
    return counts


@pytest.mark.parametrize("name", FILES)
def test_every_frame_becomes_what_its_record_says_in_process(name):
    """The same files through Stream alone: fast, and names the frame that disagrees."""
    rows: list[tuple[str, tuple]] = []
    stream = Stream("g1", lambda table, row: rows.append((table, row)))
    received = datetime.fromtimestamp(ANCHOR_MS / 1000, timezone.utc)
    for raw, expect in expectations(name):
        before = len(rows)
        stream.accept(Frame(raw, received, "c1"))
        (table, row), = rows[before:]
        if expect == "row":
            assert table != "quarantine", (raw[:200], row[3])
        else:
            assert table == "quarantine" and row[4] == raw, raw[:200]
            assert expect.removeprefix("quarantine:") in row[3], (raw[:200], row[3])


def replayed(plain_server, name: str) -> str:
    summary, played, ts_dsn = gather_replay(plain_server, CONFORMANCE / name)
    assert played and summary["stream"]["frames"] >= len(expectations(name)), summary
    quarantined = stored(ts_dsn, "select raw, reason from kstore.quarantine order by quarantine_id")
    wanted = [(raw, expect.removeprefix("quarantine:")) for raw, expect in expectations(name)
              if expect != "row"]
    assert [bytes(raw) for raw, _ in quarantined] == [raw for raw, _ in wanted]
    for (_, reason), (_, fragment) in zip(quarantined, wanted):
        assert fragment in reason, (reason, fragment)
    for table, count in expected_rows(name).items():
        where = " where source = 'ws'" if table == "orderbook_snapshots" else ""
        assert stored(ts_dsn, f"select count(*) from kstore.{table}{where}") == [(count,)], table
    canaries = sum(1 for raw, _ in wanted)
    assert stored(ts_dsn, f"""select count(*) from kstore.tickers
        where ts >= '{at(90001).isoformat()}' and price = 0.5""") == [(canaries,)]
    return ts_dsn


def test_documented_shapes_are_stored_exactly_and_every_rule_quarantines(plain_server):
    ts_dsn = replayed(plain_server, "documented_shapes.jsonl")
    assert stored(ts_dsn, """
        select market_ticker, yes_prices, yes_sizes, no_prices, no_sizes, seq
        from kstore.orderbook_snapshots where source = 'ws' order by seq""") == [
        (FED, [D("0.08"), D("0.22")], [D(300), D(333)], [D("0.54"), D("0.56")], [D(20), D(146)], 1),
        (NY, [D("0.36")], [D("10.5")], [], [], 2),
        ("KXNO-26DEC-B1", [], [], [D("0.99")], [D(1)], 3),
        ("KXEMPTY-26DEC-B1", [], [], [], [], 4)]
    assert stored(ts_dsn, """select market_ticker, ts, side, price, delta, key_scope, sid, seq
        from kstore.orderbook_deltas order by seq""") == [
        (FED, at(105), "yes", D("0.22"), D(-54), "", 7, 5),
        (FED, at(106), "yes", D("0.3655"), D(3), "", 7, 6)]
    assert stored(ts_dsn, """select trade_id::text, ts, market_ticker, yes_price, no_price, count,
        taker_outcome_side, taker_book_side, is_block_trade from kstore.trades""") == [
        ("d91bc706-ee49-470d-82d8-11418bda6fed", at(300), NY, D("0.36"), D("0.64"), D(136),
         "no", "ask", False)]
    assert stored(ts_dsn, """select ts, price, yes_bid, yes_ask, yes_bid_size, yes_ask_size,
        last_trade_size, volume, open_interest, dollar_volume, dollar_open_interest, sending_ts
        from kstore.tickers where ts = '""" + at(400).isoformat() + "'") == [
        (at(400), D("0.48"), D("0.45"), D("0.53"), D(300), D(150), D(25), D(33896), D(20422),
         16948, 10211, at(401))]
    assert stored(ts_dsn, "select count(*) from kstore.feed_gaps") == [(0,)], \
        "no bad frame's seq was used for sequencing"


def test_pathological_bytes_are_quarantined_with_their_exact_bytes(plain_server):
    ts_dsn = replayed(plain_server, "pathological_bytes.jsonl")
    assert stored(ts_dsn, """select ts, price from kstore.tickers where ts < '"""
                  + at(90000).isoformat() + "' order by ts") == [
        (at(600), D("0.6")), (at(601), D("0.601")), (at(602), D("0.602"))]


def test_legacy_payloads_are_quarantined_or_mapped_never_an_empty_book(plain_server):
    ts_dsn = replayed(plain_server, "legacy_payloads.jsonl")
    assert stored(ts_dsn, """select market_ticker, yes_prices, yes_sizes, no_prices, no_sizes
        from kstore.orderbook_snapshots where source = 'ws'""") == [
        (FED, [D("0.08")], [D(300)], [], [])]
    [(ts, scope, received)] = stored(ts_dsn, """select ts, key_scope, received_at
        from kstore.orderbook_deltas""")
    assert (ts, scope) == (received, "g1"), "only the deprecated ts: keyed per gatherer"
    assert stored(ts_dsn, """select trade_id::text, ts, taker_outcome_side, taker_book_side
        from kstore.trades""") == [
        ("0f6c2b8e-1d3a-4b5c-9e7f-a1b2c3d4e5f6", at(310), "yes", "bid")]


def test_a_row_the_database_rejects_keeps_its_frame_bytes_in_quarantine(ts_dsn):
    """Rows carry their frame's bytes to the writer: a row only the database refuses (here a
    zero delta, which parse would refuse first) is quarantined with them, not a dump."""
    def framed(row: tuple, n: int) -> Row:
        framed_row = Row(row)
        framed_row.raw = b'{"frame":%d}' % n
        return framed_row
    rows = [framed(delta_row(n), n) for n in range(50)]
    rows[7] = framed(delta_row(7, size="0.00"), 7)
    run(put_all(ts_dsn, "orderbook_deltas", rows))
    [(raw, reason)] = rows_of(ts_dsn, "select raw, reason from kstore.quarantine")
    assert bytes(raw) == b'{"frame":7}' and reason.startswith("orderbook_deltas: 23514 ")
    assert rows_of(ts_dsn, "select count(*) from kstore.orderbook_deltas") == [(49,)]
