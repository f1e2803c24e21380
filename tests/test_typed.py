"""The fast path (kstore.gatherer.typed) never changes a verdict: for any frame it accepts, its
result is exactly the slow path's (type, envelope, every column value, the ticker fingerprint),
and a frame the slow path refuses is never accepted by it."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from test_fuzz_parse import FUZZ, NOW, mutated_deltas, valid_messages

from kstore.gatherer import parse as parse_module
from kstore.gatherer.parse import Frame, parse
from kstore.gatherer.stream import fingerprint

ESCAPES = st.sampled_from(['\\u0041', 'é', '\\"', "\\\\", ' ', '":', '\\ud83d\\ude00'])


def slow(raw: bytes):
    saved, parse_module.parse_fast = parse_module.parse_fast, lambda raw, window: None
    try:
        return parse(Frame(raw, NOW, "c1"))
    finally:
        parse_module.parse_fast = saved


def check(raw: bytes) -> bool:
    """True when the fast path took the frame; either way the verdicts agree."""
    fast, exact = parse(Frame(raw, NOW, "c1")), slow(raw)
    assert (fast.type, fast.reason) == (exact.type, exact.reason), raw
    if fast.message is not None or fast.reason is not None:
        return False  # the slow path decided
    assert (fast.sid, fast.seq, fast.sending_ts, fast.body) == (
        exact.sid, exact.seq, exact.sending_ts, exact.body), raw
    if fast.type == "ticker":
        assert fast.fingerprint == fingerprint(exact.message["msg"]), raw
    return True


@FUZZ
@given(valid_messages, st.booleans())
def test_valid_frames_take_the_fast_path_with_the_same_values(message, compact):
    message["msg"]["market_id"] = "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1"
    raw = json.dumps(message, separators=(",", ":") if compact else None).encode()
    assert check(raw)


@FUZZ
@given(valid_messages, st.sampled_from(["market_id", "ts", "title"]), ESCAPES)
def test_strings_escapes_and_unknown_fields_keep_the_verdict(message, key, text):
    raw = json.dumps(message, separators=(",", ":"))
    raw = raw.replace('"msg":{', f'"msg":{{"{key}":"a{text}b",', 1)
    check(raw.encode())


@FUZZ
@given(mutated_deltas())
def test_mutated_frames_keep_the_verdict(raw):
    check(raw)


def test_a_duplicate_key_hidden_by_whitespace_is_not_taken():
    raw = (b'{"type":"orderbook_delta","sid":1,"seq":2,"msg":{"market_ticker":"A",'
           b'"side":"yes","price_dollars":"0.5","delta_fp":"1.00","side" :"no"}}')
    assert not check(raw)
    assert slow(raw).reason.startswith("duplicate key")


SIMULATED = [  # frames as the simulator sends them (frames.data_frame), one of each hot type
    '{"type":"orderbook_delta","sid":4,"seq":51,"msg":{"market_ticker":"KXSIMTEMP-E02-B105",'
    '"market_id":"d739543b-8d8e-4b13-a83b-3ab1ac153076","price_dollars":"0.3900","delta_fp":'
    '"-44.92","side":"yes","ts":"2026-11-24T12:00:00Z","ts_ms":%d},"sending_ts_ms":%d}',
    '{"type":"trade","sid":1,"msg":{"trade_id":"bfd73c04-a4b1-4297-bf76-cf0c9b0a7d25",'
    '"market_ticker":"KXSIMIDX-E01-B125","yes_price_dollars":"0.1600","no_price_dollars":'
    '"0.8400","count_fp":"45.00","taker_side":"no","taker_outcome_side":"no","taker_book_side":'
    '"ask","is_block_trade":false,"ts":1796536122,"ts_ms":%d},"sending_ts_ms":%d}',
    '{"type":"ticker","sid":2,"msg":{"market_id":"cc8bdd03-1be5-4f38-aa24-578260497284",'
    '"market_ticker":"KXSIMIDX-E01-B125","price_dollars":"0.1600","yes_bid_dollars":"0.1600",'
    '"yes_ask_dollars":"0.1900","volume_fp":"45.00","open_interest_fp":"0.00","dollar_volume":7,'
    '"dollar_open_interest":0,"yes_bid_size_fp":"144.00","yes_ask_size_fp":"348.00",'
    '"last_trade_size_fp":"45.00","ts":1796536122,"ts_ms":%d,"time":"2026-11-24T12:00:00Z"},'
    '"sending_ts_ms":%d}',
]


def test_every_mutation_of_the_fuzz_bench_keeps_the_verdict():
    from kstore.simulator.mutations import MUTATIONS
    ms = int(NOW.timestamp() * 1000)
    frames = [template % (ms, ms) for template in SIMULATED]
    assert all(check(frame.encode()) for frame in frames)
    for name, mutate in MUTATIONS.items():
        for frame in frames:
            for word in range(0, 2**64, 2**64 // 40):
                mutant = mutate(frame, word)
                check(mutant.encode() if isinstance(mutant, str) else bytes(mutant))
