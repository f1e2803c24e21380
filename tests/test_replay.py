"""The replay server (`kstore simulate --replay FILE`): byte-exact frames, recorded sids, several
connections, silences and closes, REST from the file, and a real gatherer fed from tests/frames."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from conftest import gather_from_replay, run_kstore
from kstore.simulator import ReplayFileError, ReplayServer, SimulatorOptions, SimulatorThread
from kstore.simulator.replay_file import load

FRAMES = Path(__file__).parent / "frames"
WRITER = "kstore_gatherer_writer"
ANCHOR_MS = (time.time_ns() // 1_000_000) - 60_000  # the replay clock: a minute ago
BOOKS = {"channels": ["orderbook_delta"], "market_tickers": ["KXA-26DEC-B1"]}


def run(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def write(tmp_path: Path, *records: dict) -> Path:
    path = tmp_path / "frames.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def replay(path: Path, **overrides) -> ReplayServer:
    return ReplayServer(SimulatorOptions(**{"port": 0, "replay": path, "ping_interval": None,
                                            "anchor_ms": ANCHOR_MS, **overrides}))


class Wire:
    """A client on websockets' sans-I/O protocol: every frame with its opcode and exact bytes."""

    def __init__(self, url: str) -> None:
        self.uri = parse_uri(url)
        self.protocol = ClientProtocol(self.uri, max_size=None)
        self.events: deque = deque()

    @classmethod
    async def open(cls, url: str) -> Wire:
        wire = cls(url)
        wire.reader, wire.writer = await asyncio.open_connection(wire.uri.host, wire.uri.port)
        wire.protocol.send_request(wire.protocol.connect())
        wire._flush()
        response = await wire._event()
        assert isinstance(response, Response) and response.status_code == 101
        return wire

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.writer.write(data)

    async def _event(self, timeout: float = 5.0):
        while not self.events:
            data = await asyncio.wait_for(self.reader.read(1 << 16), timeout)
            if not data:
                raise EOFError("connection dropped")
            self.protocol.receive_data(data)
            self.events.extend(self.protocol.events_received())
            self._flush()
        return self.events.popleft()

    async def frame(self, timeout: float = 5.0) -> Frame:
        return await self._event(timeout)

    async def send(self, cmd_id: int, cmd: str, params: dict | None = None) -> None:
        self.protocol.send_text(json.dumps({"id": cmd_id, "cmd": cmd, "params": params or {}}).encode())
        self._flush()

    async def subscribe(self, cmd_id: int, params: dict) -> list[dict]:
        """Send a subscribe and return its `subscribed` replies (one per channel)."""
        await self.send(cmd_id, "subscribe", params)
        return [json.loads((await self.frame()).data) for _ in params["channels"]]

    async def silent(self, seconds: float) -> bool:
        try:
            await self._event(seconds)
        except asyncio.TimeoutError:
            return True
        return False

    def close(self) -> None:
        self.writer.close()


# -- the file format ------------------------------------------------------------------------

def test_load_reads_every_kind_and_infers_sids(tmp_path):
    path = write(tmp_path,
                 {"kind": "note", "text": "ignored"},
                 {"json": {"type": "trade", "sid": 4, "msg": {}}},
                 {"conn": 1, "kind": "binary", "b64": b64(b"\x00\xff"), "at_ms": 5},
                 {"conn": 1, "kind": "silence", "seconds": 1.5},
                 {"conn": 1, "kind": "close", "code": 1012, "reason": "restart"},
                 {"conn": 2, "kind": "sids", "sids": {"orderbook_delta": [2, 9], "trade": 1}},
                 {"conn": 2, "kind": "abort"},
                 {"kind": "rest", "path": "/markets/X", "status": 404, "body": {"error": {}}})
    recording = load(path)
    assert recording.script(0).sids == {"trade": [4]}
    steps = recording.script(1).steps
    assert [type(s).__name__ for s in steps] == ["Frame", "Silence", "Close"]
    assert steps[0].payload == b"\x00\xff" and not steps[0].text and steps[0].at_ms == 5
    assert steps[2].code == 1012 and steps[2].reason == "restart"
    assert recording.script(2).sids == {"orderbook_delta": [2, 9], "trade": [1]}
    assert recording.rest["/trade-api/v2/markets/X"] == (404, {"error": {}})


@pytest.mark.parametrize("record, message", [
    ({"kind": "text"}, "a frame has exactly one of data, json, b64"),
    ({"kind": "text", "b64": "not base64!"}, "b64 is not base64"),
    ({"kind": "gossip"}, "unknown kind 'gossip'"),
    ({"kind": "close", "code": 1006}, "close code 1006 cannot be sent"),
    ({"kind": "sids", "sids": {"trade": 1, "ticker": 1}}, "a sid appears twice"),
    ({"conn": -1, "data": "{}"}, "conn must be an integer >= 0"),
])
def test_a_bad_record_is_refused_with_its_line(tmp_path, record, message):
    path = write(tmp_path, {"data": "{}"}, record)
    with pytest.raises(ReplayFileError, match=f"line 2: {message}"):
        load(path)


def test_frames_after_a_close_are_refused(tmp_path):
    with pytest.raises(ReplayFileError, match="line 2: conn 0 already ended"):
        load(write(tmp_path, {"kind": "close"}, {"data": "{}"}))


def test_cli_serves_a_file_and_refuses_a_bad_one_in_one_line(tmp_path):
    served = run_kstore("simulate", "--replay", str(FRAMES / "documented_feed.jsonl"), "--port", "0",
                        "--duration", "0.5", timeout=60)
    assert served.returncode == 0, served.stderr
    assert "replay of" in served.stderr and "(1 connection script(s))" in served.stderr
    path = tmp_path / "bad.jsonl"
    path.write_text('{"data": "{}"}\nnot json\n')
    result = run_kstore("simulate", "--replay", str(path), "--port", "0", timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"kstore: error: replay file {path} line 2: Expecting value: line 1 column 1 (char 0)"]


# -- the wire ---------------------------------------------------------------------------------

EXACT = [
    ({"data": '{ "type" : "trade", "sid":1, "msg":{"é":"\u00e9 \u2603"} }'}, Opcode.TEXT,
     '{ "type" : "trade", "sid":1, "msg":{"é":"é ☃"} }'.encode()),
    ({"b64": b64(b'{"type":"trade"\xff\xfe}')}, Opcode.TEXT, b'{"type":"trade"\xff\xfe}'),
    ({"b64": b64(b"\xef\xbb\xbf{}\x00 trailing")}, Opcode.TEXT, b"\xef\xbb\xbf{}\x00 trailing"),
    ({"data": "{\"a\":\"\ud800\"}"}, Opcode.TEXT, b'{"a":"\xed\xa0\x80"}'),
    ({"kind": "binary", "b64": b64(bytes(range(256)))}, Opcode.BINARY, bytes(range(256))),
    ({"kind": "binary", "data": '{"type":"ticker"}'}, Opcode.BINARY, b'{"type":"ticker"}'),
    ({"data": '{"ts_ms":{{now_ms+5}}}', "template": True}, Opcode.TEXT,
     f'{{"ts_ms":{ANCHOR_MS + 5}}}'.encode()),
    ({"data": '{"ts_ms":{{now_ms+5}}}'}, Opcode.TEXT, b'{"ts_ms":{{now_ms+5}}}'),
    ({"json": {"ts_ms": "{{now_ms-7}}", "s": "{{now_s}}"}}, Opcode.TEXT,
     f'{{"ts_ms":{ANCHOR_MS - 7},"s":{ANCHOR_MS // 1000}}}'.encode()),
]


def test_every_frame_arrives_with_its_opcode_and_exact_bytes(tmp_path):
    path = write(tmp_path, *(record for record, _, _ in EXACT))

    async def scenario():
        async with replay(path) as server:
            wire = await Wire.open(server.ws_url)
            await wire.subscribe(1, {"channels": ["trade"]})  # the first frame is on its sid
            got = [await wire.frame() for _ in EXACT]
            await asyncio.wait_for(server.played.wait(), 5)
            wire.close()
        return got

    got = run(scenario())
    assert [(f.opcode, f.data) for f in got] == [(op, data) for _, op, data in EXACT]


def test_subscribed_replies_carry_the_recorded_sids(tmp_path):
    path = write(tmp_path,
                 {"kind": "sids", "sids": {"orderbook_delta": [4, 9], "trade": 2}},
                 {"conn": 1, "json": {"type": "ticker", "sid": 6, "msg": {}}})

    async def scenario():
        async with replay(path) as server:
            first = await Wire.open(server.ws_url)
            replies = await first.subscribe(1, {"channels": ["trade", "ticker", "market_lifecycle_v2"]})
            replies += await first.subscribe(2, BOOKS)
            replies += await first.subscribe(3, BOOKS)
            replies += await first.subscribe(4, BOOKS)
            second = await Wire.open(server.ws_url)  # conn 1: sids inferred from its frames
            replies += await second.subscribe(1, {"channels": ["ticker"]})
            await second.send(2, "list_subscriptions")
            two = [json.loads((await second.frame()).data) for _ in range(2)]  # + its ticker frame
            listed = next(frame for frame in two if frame["type"] == "ok")
            await first.send(5, "subscribe", {"channels": ["fills"]})
            unknown = json.loads((await first.frame()).data)
            first.close(), second.close()
        return replies, listed, unknown

    replies, listed, unknown = run(scenario())
    assert [(r["id"], r["msg"]["channel"], r["msg"]["sid"]) for r in replies] == [
        (1, "trade", 2), (1, "ticker", 10), (1, "market_lifecycle_v2", 11),
        (2, "orderbook_delta", 4), (3, "orderbook_delta", 9), (4, "orderbook_delta", 12),
        (1, "ticker", 6)]
    assert listed["subscriptions"] == [{"channel": "ticker", "sid": 6}]
    assert unknown["msg"]["code"] == 8


def test_frames_wait_for_the_subscription_of_their_sid(tmp_path):
    path = write(tmp_path,
                 {"kind": "binary", "b64": b64(b"before any sid")},
                 {"json": {"type": "orderbook_snapshot", "sid": 3, "seq": 1, "msg": {}}},
                 {"json": {"type": "trade", "sid": 8, "msg": {}}})

    async def scenario():
        async with replay(path) as server:
            wire = await Wire.open(server.ws_url)
            unsid = await wire.frame()
            quiet = await wire.silent(0.5)
            trade = await wire.subscribe(1, {"channels": ["trade"]})
            quiet_too = await wire.silent(0.3)  # the snapshot on sid 3 still holds the trade back
            book = await wire.subscribe(2, BOOKS)
            rest = [json.loads((await wire.frame()).data) for _ in range(2)]
            wire.close()
        return unsid, quiet, trade, quiet_too, book, rest

    unsid, quiet, trade, quiet_too, book, rest = run(scenario())
    assert unsid.data == b"before any sid" and quiet and quiet_too
    assert trade[0]["msg"]["sid"] == 8 and book[0]["msg"]["sid"] == 3
    assert [(f["type"], f["sid"]) for f in rest] == [("orderbook_snapshot", 3), ("trade", 8)]


def test_connections_play_their_own_conn_with_silence_close_and_abort(tmp_path):
    path = write(tmp_path,
                 {"conn": 0, "data": "first"},
                 {"conn": 0, "kind": "silence", "seconds": 1.0},
                 {"conn": 0, "data": "after the silence"},
                 {"conn": 0, "kind": "close", "code": 1012, "reason": "restart"},
                 {"conn": 1, "data": "second connection"},
                 {"conn": 1, "kind": "abort"})

    async def scenario():
        async with replay(path) as server:
            first = await Wire.open(server.ws_url)
            one = await first.frame()
            started = time.monotonic()
            two = await first.frame()
            pause = time.monotonic() - started
            closing = await first.frame()
            second = await Wire.open(server.ws_url)
            three = await second.frame()
            with pytest.raises(EOFError):
                await second.frame()
            third = await Wire.open(server.ws_url)  # beyond the file: nothing but replies
            quiet = await third.silent(0.3)
            await asyncio.wait_for(server.played.wait(), 5)
            first.close(), second.close(), third.close()
            return one, two, pause, closing, three, quiet

    one, two, pause, closing, three, quiet = run(scenario())
    assert (one.data, two.data, three.data) == (b"first", b"after the silence", b"second connection")
    assert 0.9 <= pause < 3
    assert closing.opcode == Opcode.CLOSE and Close.parse(closing.data) == Close(1012, "restart")
    assert quiet


def test_at_ms_paces_frames_unless_speed_is_zero(tmp_path):
    path = write(tmp_path, {"data": "a"}, {"data": "b", "at_ms": 800})

    async def elapsed(speed: float) -> float:
        async with replay(path, replay_speed=speed) as server:
            wire = await Wire.open(server.ws_url)
            started = time.monotonic()
            await wire.frame()
            await wire.frame()
            wire.close()
            return time.monotonic() - started

    assert run(elapsed(0)) < 0.5
    assert 0.6 < run(elapsed(1)) < 2.5


def test_rest_serves_the_markets_of_the_file_and_its_fixed_answers(tmp_path):
    path = write(tmp_path,
                 {"json": {"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {
                     "market_ticker": "KXA-26DEC-B1", "yes_dollars_fp": [["0.123400", "1.50"]]}}},
                 {"json": {"type": "market_lifecycle_v2", "sid": 2, "msg": {
                     "market_ticker": "KXB-26DEC-B2", "event_type": "created",
                     "price_level_structure": "deci_cent",
                     "additional_metadata": {"event_ticker": "KXB-EV"}}}},
                 {"kind": "rest", "path": "/markets/KXB-26DEC-B2", "status": 404,
                  "body": {"error": {"code": "not_found", "message": "gone"}}})
    with SimulatorThread(SimulatorOptions(port=0, replay=path, ping_interval=None)) as server:
        markets = httpx.get(f"{server.rest_url}/markets").json()["markets"]
        book = httpx.get(f"{server.rest_url}/markets/KXA-26DEC-B1/orderbook").json()
        fixed = httpx.get(f"{server.rest_url}/markets/KXB-26DEC-B2")
        events = httpx.get(f"{server.rest_url}/events").json()["events"]
    assert [(m["ticker"], m["event_ticker"], m["status"], m["price_level_structure"])
            for m in markets] == [("KXA-26DEC-B1", "KXA-26DEC", "active", "linear_cent"),
                                  ("KXB-26DEC-B2", "KXB-EV", "active", "deci_cent")]
    assert book == {"orderbook_fp": {"yes_dollars": [["0.123400", "1.50"]], "no_dollars": []}}
    assert fixed.status_code == 404 and fixed.json()["error"]["message"] == "gone"
    assert [(e["event_ticker"], e["series_ticker"]) for e in events] == [
        ("KXA-26DEC", "KXA"), ("KXB-EV", "KXB")]


# -- a real gatherer fed from tests/frames ----------------------------------------------------

def stored(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


def at(offset_ms: int) -> datetime:
    """The exchange time `{{now_ms+offset_ms}}` of a fixture, as stored."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ANCHOR_MS + offset_ms)


FED, NY = "KXFED-26DEC-T3.00", "KXHIGHNY-26DEC06-B53.5"
D = Decimal


def gather_replay(plain_server, frames: Path, seconds: float = 3, **gather) -> tuple[dict, bool, str]:
    """A real gatherer on fresh ts/rel databases fed by the replay of `frames`:
    (its summary, whether every recorded frame was sent, the ts DSN as owner)."""
    summary, played, ts_dsn, _ = gather_from_replay(plain_server, frames, ANCHOR_MS, seconds,
                                                    **gather)
    return summary, played, ts_dsn


def test_a_gatherer_stores_exactly_the_documented_feed(plain_server):
    summary, played, ts_dsn = gather_replay(plain_server, FRAMES / "documented_feed.jsonl")

    assert played and summary["stream"]["frames"] == 4 + 8, summary
    assert stored(ts_dsn, "select count(*) from kstore.quarantine") == [(0,)]
    assert stored(ts_dsn, """
        select market_ticker, yes_prices, yes_sizes, no_prices, no_sizes, sid, seq
        from kstore.orderbook_snapshots where source = 'ws' order by seq""") == [
        (FED, [D("0.08"), D("0.22")], [D(300), D(333)], [D("0.54"), D("0.56")], [D(20), D(146)], 7, 1),
        (NY, [D("0.36")], [D("10.5")], [], [], 7, 2)]
    assert stored(ts_dsn, """
        select market_ticker, yes_prices, yes_sizes, no_prices, no_sizes
        from kstore.orderbook_snapshots where source = 'rest' order by market_ticker""") == [
        (FED, [D("0.08"), D("0.22")], [D(300), D(333)], [D("0.54"), D("0.56")], [D(20), D(146)]),
        (NY, [D("0.36")], [D("10.5")], [], [])]
    assert stored(ts_dsn, """
        select market_ticker, ts, side, price, delta, dup_ordinal, use_yes_price, sid, seq, sending_ts
        from kstore.orderbook_deltas order by seq""") == [
        (FED, at(100), "yes", D("0.22"), D(-54), 0, False, 7, 3, at(101)),
        (FED, at(200), "no", D("0.54"), D("12.5"), 0, False, 7, 4, None),
        (FED, at(200), "no", D("0.54"), D("12.5"), 1, False, 7, 5, None),
        (NY, at(250), "yes", D("0.3655"), D(3), 0, False, 7, 6, None)]
    assert stored(ts_dsn, """
        select trade_id::text, ts, market_ticker, yes_price, no_price, count, taker_outcome_side,
               taker_book_side, is_block_trade, sending_ts from kstore.trades""") == [
        ("d91bc706-ee49-470d-82d8-11418bda6fed", at(300), NY, D("0.36"), D("0.64"), D(136), "no",
         "ask", False, at(301))]
    assert stored(ts_dsn, """
        select market_ticker, ts, price, yes_bid, yes_ask, yes_bid_size, yes_ask_size,
               last_trade_size, volume, open_interest, dollar_volume, dollar_open_interest,
               sending_ts from kstore.tickers""") == [
        (FED, at(400), D("0.48"), D("0.45"), D("0.53"), D(300), D(150), D(25), D(33896), D(20422),
         16948, 10211, at(401))]


def test_a_gatherer_reconnects_onto_the_next_recorded_connection(plain_server):
    summary, played, ts_dsn = gather_replay(plain_server, FRAMES / "reconnect_after_close.jsonl")

    assert played and summary["connects"] == 2, summary
    assert stored(ts_dsn, """
        select yes_sizes, sid, seq from kstore.orderbook_snapshots where source = 'ws'
        order by received_at""") == [([D(50)], 4, 1), ([D(40)], 4, 1)]
    assert stored(ts_dsn, """
        select ts, side, price, delta, sid, seq from kstore.orderbook_deltas order by ts""") == [
        (at(10), "yes", D("0.41"), D(-10), 4, 2), (at(20), "no", D("0.55"), D(5), 4, 2)]
    assert stored(ts_dsn, "select count(*) from kstore.quarantine") == [(0,)]


def test_a_silent_recorded_connection_makes_the_gatherer_reconnect(plain_server):
    summary, played, ts_dsn = gather_replay(plain_server, FRAMES / "silence_then_reconnect.jsonl",
                                            4, silence_timeout=1, backoff_max=1)

    assert not played, "conn 0's frame after the silence is never sent: the gatherer left"
    assert summary["connects"] >= 2, summary  # conn 1 ends silent too: later ones get nothing
    assert stored(ts_dsn, """
        select yes_sizes, sid from kstore.orderbook_snapshots where source = 'ws'
        order by received_at""") == [([D(50)], 4), ([D(39)], 8)]
    assert stored(ts_dsn, "select ts, delta, sid, seq from kstore.orderbook_deltas order by ts") == [
        (at(10), D(-10), 4, 2), (at(20), D(1), 8, 2)]
