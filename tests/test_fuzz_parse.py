"""Property-based fuzzing of parse and Stream (decision 0023): whatever the bytes, nothing
escapes; a valid frame is never quarantined; an invalid one never becomes a row. An independent
oracle, written from KALSHI-API.md with the standard library, judges mutated delta frames."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kstore.gatherer.parse import Frame, parse
from kstore.gatherer.stream import Stream

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
MS = int(NOW.timestamp() * 1000)
DAY_MS = 86_400_000
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

tickers = st.from_regex(r"\A[A-Z0-9][A-Z0-9.\-]{0,30}\Z")
prices = st.builds(lambda i, places: f"{i / 10**places:.{places}f}",
                   st.integers(0, 10**4), st.integers(4, 6)).filter(lambda p: float(p) <= 1)
sizes = st.builds(lambda i: f"{i / 100:.2f}", st.integers(1, 10**10))
times = st.integers(MS - DAY_MS + 1, MS + DAY_MS - 1)
seqs = st.integers(0, 2**63 - 1)
sids = st.integers(0, 2**31 - 1)


@st.composite
def deltas(draw):
    size = draw(sizes)
    return {"type": "orderbook_delta", "sid": draw(sids), "seq": draw(seqs), "msg": {
        "market_ticker": draw(tickers), "price_dollars": draw(prices),
        "delta_fp": draw(st.sampled_from(["", "-"])) + size,
        "side": draw(st.sampled_from(["yes", "no"])),
        "ts_ms": draw(times)}}


@st.composite
def trades(draw):
    outcome = draw(st.sampled_from(["yes", "no"]))
    return {"type": "trade", "sid": draw(sids), "msg": {
        "trade_id": str(draw(st.uuids())), "market_ticker": draw(tickers),
        "yes_price_dollars": draw(prices), "no_price_dollars": draw(prices),
        "count_fp": draw(sizes), "taker_outcome_side": outcome,
        "taker_book_side": "bid" if outcome == "yes" else "ask",
        "is_block_trade": draw(st.booleans()), "ts_ms": draw(times)}}


@st.composite
def tickers_msgs(draw):
    return {"type": "ticker", "sid": draw(sids), "sending_ts_ms": draw(times), "msg": {
        "market_ticker": draw(tickers), "ts_ms": draw(times), "price_dollars": draw(prices),
        "yes_bid_dollars": draw(prices), "volume_fp": draw(sizes),
        "dollar_volume": draw(st.integers(-2**63, 2**63 - 1))}}


@st.composite
def snapshots(draw):
    level = st.tuples(prices, sizes).map(list)
    msg = {"market_ticker": draw(tickers)}
    for side in ("yes", "no"):
        if draw(st.booleans()):
            msg[f"{side}_dollars_fp"] = draw(st.lists(level, max_size=5))
    return {"type": "orderbook_snapshot", "sid": draw(sids), "seq": draw(seqs), "msg": msg}


valid_messages = st.one_of(deltas(), trades(), tickers_msgs(), snapshots())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (st.lists(inner, max_size=4)
                   | st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)


def accept(raw: bytes) -> list[tuple[str, tuple]]:
    rows: list[tuple[str, tuple]] = []
    Stream("g1", lambda table, row: rows.append((table, row))).accept(Frame(raw, NOW, "c1"))
    return rows


@FUZZ
@given(valid_messages)
def test_a_valid_frame_is_never_quarantined(message):
    for raw in (json.dumps(message).encode(), json.dumps(message, separators=(",", ":")).encode()):
        [(table, row)] = accept(raw)
        assert table != "quarantine", row[3]


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_never_escape_and_become_at_most_one_row(raw):
    rows = accept(raw)
    assert len(rows) <= 1 and parse(Frame(raw, NOW, "c1")) is not None


@FUZZ
@given(json_values | st.dictionaries(
    st.sampled_from(["type", "sid", "seq", "msg", "sending_ts_ms"]), json_values))
def test_random_json_never_escapes(value):
    rows = accept(json.dumps(value).encode())
    assert len(rows) <= 1


@st.composite
def mutated_deltas(draw):
    raw = bytearray(json.dumps(draw(deltas()), separators=(",", ":")).encode())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(["flip", "insert", "delete"]))
        special = list(b'"\\{}[],:0-9eE+.-aZ \x00\xff\xed')
        byte = draw(st.sampled_from(special + [draw(st.integers(0, 255))]))
        if action == "insert":
            raw[at:at] = bytes([byte])
        elif at < len(raw):
            raw[at:at + 1] = b"" if action == "delete" else bytes([byte])
    return bytes(raw)


def oracle(raw: bytes) -> bool:
    """Is `raw` a valid orderbook_delta frame by KALSHI-API.md 3.4/3.5/4 and decision 0023?"""
    def pairs(items):
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate")
        return dict(items)

    def constant(name):
        raise ValueError(name)
    try:
        text = raw.decode("utf-8")
        if text.startswith("\ufeff") or "\\u0000" in text:
            return False
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # no lone surrogates
    except (ValueError, RecursionError, UnicodeError):
        return False
    if not isinstance(value, dict) or value.get("type") != "orderbook_delta":
        return False
    msg, ints = value.get("msg"), (("sid", 2**31 - 1), ("seq", 2**63 - 1))
    if any(value.get(k) is not None and not (type(value[k]) is int and 0 <= value[k] <= top)
           for k, top in ints) or not isinstance(msg, dict):
        return False
    price, change, ts = msg.get("price_dollars"), msg.get("delta_fp"), msg.get("ts_ms")
    return bool(
        isinstance(msg.get("market_ticker"), str)
        and re.fullmatch(r"[A-Z0-9][A-Z0-9.\-]{0,127}", msg["market_ticker"])
        and msg.get("side") in ("yes", "no")
        and isinstance(price, str) and re.fullmatch(r"[0-9]{1,4}(\.[0-9]{1,6})?", price)
        and float(price) <= 1
        and isinstance(change, str) and re.fullmatch(r"-?[0-9]{1,16}(\.[0-9]{1,2})?", change)
        and float(change) != 0
        and (ts is None or (type(ts) is int and abs(ts - MS) <= DAY_MS))
        and (value.get("sending_ts_ms") is None or (
            type(value["sending_ts_ms"]) is int and abs(value["sending_ts_ms"] - MS) <= DAY_MS)))


@FUZZ
@given(mutated_deltas())
def test_a_mutated_delta_is_a_row_exactly_when_the_oracle_says_valid(raw):
    rows = accept(raw)  # none: the mutation made a control reply
    assert len(rows) <= 1
    assert any(table == "orderbook_deltas" for table, _ in rows) == oracle(raw), (raw, rows)


@FUZZ
@given(deltas(), st.sampled_from([(",", ":"), (", ", ": "), (",", " :"), (" ,\n", "\t:\r\n")]),
       st.sampled_from(["market_ticker", "side", "price_dollars", "ts_ms"]),
       st.sampled_from(['":', 'a\\":b', ""]))
def test_a_duplicate_key_is_refused_whatever_the_whitespace_and_strings(
        message, separators, key, trap):
    message["msg"]["market_id"] = trap  # a key-like `":` inside a string must not hide it
    raw = json.dumps(message, separators=separators)
    value = json.dumps(message["msg"][key])
    doubled = raw.replace(f'"{key}"', f'"{key}"{separators[1]}{value}{separators[0]}"{key}"', 1)
    parsed = parse(Frame(doubled.encode(), NOW, "c1"))
    assert parsed.reason is not None and parsed.reason.startswith("duplicate key"), doubled
    assert parse(Frame(raw.encode(), NOW, "c1")).reason is None, raw
