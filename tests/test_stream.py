"""Frame → rows: validation, sequence checks, dup ordinals, fingerprints (no I/O needed)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kstore.gatherer.parse import Frame, parse
from kstore.gatherer.stream import Stream, fingerprint

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
MS = int(NOW.timestamp() * 1000)  # exchange times sit next to the receive time (plausible)


def frame(message: dict | str, connection: str = "c1") -> Frame:
    raw = message if isinstance(message, str) else json.dumps(message)
    return Frame(raw.encode(), NOW, connection)


def delta(seq: int, price: str = "0.4200", size: str = "-54.00", ts_ms: int | None = MS + 1_000):
    msg = {"market_ticker": "FED-23DEC-T3.00", "price_dollars": price, "delta_fp": size,
           "side": "yes"}
    if ts_ms is not None:
        msg["ts_ms"] = ts_ms
    return {"type": "orderbook_delta", "sid": 2, "seq": seq, "msg": msg}


def snapshot(seq: int, market: str = "FED-23DEC-T3.00"):
    return {"type": "orderbook_snapshot", "sid": 2, "seq": seq, "msg": {
        "market_ticker": market, "yes_dollars_fp": [["0.2200", "333.00"], ["0.0800", "300.00"]]}}


@pytest.fixture
def captured():
    rows: list[tuple[str, tuple]] = []
    stream = Stream("g1", lambda table, row: rows.append((table, row)),
                    markets_of=lambda connection, sid: {"FED-23DEC-T3.00", "OTHER-1"})
    return stream, rows


def test_identical_deltas_in_one_millisecond_get_increasing_ordinals(captured):
    stream, rows = captured
    for seq, ts in ((1, MS + 1_000), (2, MS + 1_000), (3, MS + 1_000), (4, MS + 1_001)):
        stream.accept(frame(delta(seq, ts_ms=ts)))
    assert [row[5] for _, row in rows] == [0, 1, 2, 0]


def test_a_duplicate_seq_is_dropped_and_never_becomes_a_second_row(captured):
    stream, rows = captured
    for seq in (1, 2, 2, 3):
        stream.accept(frame(delta(seq, ts_ms=MS + 1_000 + seq)))
    assert len(rows) == 3 and stream.counts["duplicates"] == 1


def test_a_gap_is_reported_and_recovered_by_snapshots_of_every_market(captured):
    stream, rows = captured
    stream.accept(frame(delta(1)))
    outcome = stream.accept(frame(delta(5, ts_ms=MS + 2_000)))
    assert (outcome.gap.expected_seq, outcome.gap.received_seq) == (2, 5)
    assert len(rows) == 2, "the frame after the gap is a real event: stored"
    assert stream.accept(frame(snapshot(6))).recovered == []
    assert stream.accept(frame(snapshot(7, "OTHER-1"))).recovered == [outcome.gap]


def test_a_malformed_frame_reusing_a_seq_is_quarantined_not_dropped(captured):
    stream, rows = captured
    stream.accept(frame(delta(1)))
    stream.accept(frame(delta(1, price="7.0000")))
    assert [table for table, _ in rows] == ["orderbook_deltas", "quarantine"]
    assert "outside 0..1" in rows[1][1][3]


def test_a_delta_without_exchange_time_is_keyed_to_this_gatherer(captured):
    stream, rows = captured
    stream.accept(frame(delta(1, ts_ms=None)))
    table, row = rows[0]
    assert row[1] == NOW and row[6] == "g1"


@pytest.mark.parametrize("message, reason", [
    ("{not json", "not JSON"),
    ('["a list"]', "not an object"),
    (delta(1, price="0.1234567"), "more than 6 decimals"),
    ({**delta(1), "msg": {**delta(1)["msg"], "price_dollars": 0.42}}, "decimal string"),
    (delta(1, size="NaN"), "not finite"),
    ({"type": "orderbook_delta_v3", "msg": {}}, "unknown message type"),
    ({"type": "trade", "sid": 1, "msg": {"trade_id": "x"}}, "not a UUID"),
])
def test_invalid_frames_say_why(message, reason):
    parsed = parse(frame(message))
    assert parsed.reason is not None and reason in parsed.reason


def test_prices_and_sizes_stay_exact():
    body = parse(frame(delta(1, price="0.012300", size="12.50"))).body
    assert body["price"] == Decimal("0.012300") and body["delta"] == Decimal("12.50")
    assert str(body["price"]) == "0.012300"


def test_snapshot_levels_are_sorted_ascending_by_price():
    body = parse(frame(snapshot(1))).body
    assert body["yes_prices"] == [Decimal("0.0800"), Decimal("0.2200")]
    assert body["yes_sizes"] == [Decimal("300.00"), Decimal("333.00")]
    assert body["no_prices"] == [] and body["no_sizes"] == []


def test_ticker_fingerprint_ignores_key_order_but_not_values():
    a = {"market_ticker": "M", "price_dollars": "0.48", "ts_ms": 1}
    b = {"ts_ms": 1, "price_dollars": "0.48", "market_ticker": "M"}
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint({**a, "price_dollars": "0.49"})


def test_trade_and_ticker_rows_are_built_by_column_name(captured):
    from kstore.gatherer.rows import TABLE_COLUMNS

    stream, rows = captured
    trade = {"trade_id": "3c5f4c1e-8c66-4c4e-9d2a-1f0e6a7b8c9d", "market_ticker": "M-1",
             "yes_price_dollars": "0.360000", "no_price_dollars": "0.640000",
             "count_fp": "136.00", "taker_outcome_side": "no", "ts_ms": MS + 1_000}
    ticker = {"market_ticker": "M-1", "ts_ms": MS + 2_000, "price_dollars": "0.48",
              "yes_bid_dollars": "0.47", "volume_fp": "1000.00", "dollar_volume": 480}
    stream.accept(frame({"type": "trade", "sid": 1, "seq": 1, "msg": trade,
                         "sending_ts_ms": MS + 1_001}))
    stream.accept(frame({"type": "ticker", "sid": 3, "seq": 1, "msg": ticker}))
    (_, trade_row), (_, ticker_row) = rows
    traded = dict(zip(TABLE_COLUMNS["trades"], trade_row))
    assert (traded["yes_price"], traded["count"], traded["taker_book_side"]) == (
        Decimal("0.360000"), Decimal("136.00"), None)
    assert traded["is_block_trade"] is False and traded["gatherer_id"] == "g1"
    assert (traded["sending_ts"] - traded["ts"]).total_seconds() == 0.001
    ticked = dict(zip(TABLE_COLUMNS["tickers"], ticker_row))
    assert (ticked["price"], ticked["yes_bid"], ticked["yes_ask"], ticked["volume"]) == (
        Decimal("0.48"), Decimal("0.47"), None, Decimal("1000.00"))
    assert (ticked["dollar_volume"], ticked["fingerprint"]) == (480, fingerprint(ticker))
    assert ticked["received_at"] == NOW and ticked["sending_ts"] is None


def test_oversized_and_too_deep_frames_are_quarantined_with_their_bytes(captured):
    stream, rows = captured
    huge = json.dumps({**delta(1), "pad": "x" * (1 << 20)}).encode()
    deep = b"[" * 100_000 + b"]" * 100_000
    for raw in (huge, deep):
        stream.accept(Frame(raw, NOW, "c1"))
    assert [(table, row[4]) for table, row in rows] == [("quarantine", huge), ("quarantine", deep)]
    assert rows[0][1][3].startswith("oversized") and rows[1][1][3].startswith("too deep")


def test_an_unexpected_error_quarantines_the_frame_and_capture_goes_on(captured, monkeypatch):
    from kstore.gatherer import stream as stream_module

    def broken(*args):
        raise RuntimeError("a bug")
    stream, rows = captured
    monkeypatch.setitem(stream_module.ROWS, "orderbook_delta", ("orderbook_deltas", broken))
    raw = json.dumps(delta(1)).encode()
    outcome = stream.accept(Frame(raw, NOW, "c1"))
    assert outcome.parsed.reason == "internal error: RuntimeError: a bug"
    assert rows == [("quarantine", ("g1", "c1", NOW, outcome.parsed.reason, raw))]
    assert stream.failures == {"RuntimeError": 1}
    monkeypatch.undo()
    stream.accept(frame(delta(2)))
    assert rows[-1][0] == "orderbook_deltas"


def test_a_row_the_database_rejects_is_quarantined_with_its_frame_bytes(captured):
    from kstore.gatherer.batch import quarantine_row

    stream, rows = captured
    raw = json.dumps(delta(1)).encode()
    stream.accept(Frame(raw, NOW, "c1"))
    [(table, row)] = rows
    assert row.raw == raw and tuple(row) == row
    assert quarantine_row(table, row, "23514 check violated", "g1") == (
        "g1", "c1", NOW, "orderbook_deltas: 23514 check violated", raw)


def test_time_tolerance_is_a_setting_of_the_stream():
    rows: list = []
    strict = Stream("g1", lambda table, row: rows.append(table),
                    time_tolerance=timedelta(seconds=1))
    strict.accept(frame(delta(1, ts_ms=MS + 1_001)))
    strict.accept(frame(delta(2, ts_ms=MS + 999)))
    assert rows == ["quarantine", "orderbook_deltas"]


def test_a_falsy_non_list_side_is_not_an_empty_book_and_reasons_stay_storable(captured):
    stream, rows = captured
    empty = {**snapshot(1), "msg": {"market_ticker": "FED-23DEC-T3.00", "yes_dollars_fp": ""}}
    assert "not a list of levels" in parse(frame(empty)).reason
    stream._quarantine(frame(delta(1)), "bad \ud800 value \x00" + "x" * 1000)
    reason = rows[-1][1][3]
    assert len(reason) <= 520 and "\x00" not in reason and reason.encode("utf-8")


@pytest.mark.parametrize("message, reason", [
    ({"id": [1], "type": "subscribed", "msg": {"channel": "trade", "sid": 1}}, "id is not"),
    ({"id": 1, "type": "subscribed", "msg": {"channel": "trade", "sid": {"a": 1}}}, "sid is not"),
    ({"id": 1, "type": "subscribed", "msg": {"sid": 1}}, "missing field channel"),
    ({"id": 1, "type": "error", "msg": {"code": "25"}}, "code is not"),
    ({"id": 1, "type": "error", "msg": "overflow"}, "msg is not an object"),
])
def test_a_malformed_control_reply_is_quarantined_before_any_handler(message, reason):
    parsed = parse(frame(message))
    assert parsed.reason is not None and reason in parsed.reason and parsed.message is None


def test_documented_control_replies_pass():
    for message in ({"id": 1, "type": "subscribed", "msg": {"channel": "trade", "sid": 1}},
                    {"sid": 2, "type": "unsubscribed"},
                    {"id": 123, "sid": 456, "seq": 222, "type": "ok", "market_tickers": ["M-1"]},
                    {"id": 123, "type": "error", "msg": {"code": 6, "msg": "Already subscribed"}},
                    {"type": "error", "msg": {"code": 25, "msg": "Subscription buffer overflow"}}):
        assert parse(frame(message)).reason is None, message
