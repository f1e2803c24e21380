"""Behaviour of the exchange simulator, over real WebSocket and HTTP connections on localhost."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kstore.simulator import WS_PATH, Simulator, SimulatorOptions, add_arguments, options_from_args
from kstore.kalshi_auth import generate_keypair, sign_headers
from kstore.simulator.faults import CATALOGUE
from kstore.simulator.generator import Generator
from kstore.simulator.truth import read_truth
from kstore.simulator.catalogue import add_catalogue
from kstore.simulator.universe import build_universe

ALL = ["trade", "ticker", "market_lifecycle_v2"]


def run(coro, timeout: float = 40.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def options(**overrides) -> SimulatorOptions:
    return SimulatorOptions(**{"port": 0, "seed": 7, "markets": 8, "rate": 2000, "ping_interval": None,
                                 "wait_for_subscribers": 0, **overrides})


class Client:
    """A gatherer-like test client: raw frames kept as bytes, JSON parsed on demand."""

    def __init__(self, ws) -> None:
        self.ws, self.frames, self.close_code = ws, [], None

    @classmethod
    async def open(cls, sim: Simulator, query: str = "", **kwargs) -> Client:
        return cls(await connect(sim.ws_url + query, max_size=None, **kwargs))

    async def send(self, cmd_id: int, cmd: str, params: dict | None = None) -> None:
        await self.ws.send(json.dumps({"id": cmd_id, "cmd": cmd, **({"params": params} if params else {})}))

    async def next(self, timeout: float = 5.0) -> dict:
        raw = await asyncio.wait_for(self.ws.recv(decode=False), timeout)
        self.frames.append(raw)
        return json.loads(raw)

    async def until(self, predicate, timeout: float = 5.0) -> dict:
        while True:
            frame = await self.next(timeout)
            if predicate(frame):
                return frame

    async def drain(self) -> list[bytes]:
        """Read everything until the server closes the connection."""
        try:
            while True:
                self.frames.append(await self.ws.recv(decode=False))
        except ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd else None
        return self.frames

    def data(self) -> list[dict]:
        """Parsed frames that are valid JSON objects carrying a msg (malformed ones skipped)."""
        out = []
        for raw in self.frames:
            with contextlib.suppress(ValueError):
                frame = json.loads(raw)
                if isinstance(frame, dict) and isinstance(frame.get("msg"), dict) and "type" in frame:
                    out.append(frame)
        return out


async def tickers_of(sim: Simulator) -> list[str]:
    async with httpx.AsyncClient() as http:
        return [m["ticker"] for m in (await http.get(sim.rest_url + "/markets")).json()["markets"]]


async def subscribe_all(client: Client, tickers: list[str], use_yes_price: bool | None = None) -> None:
    """orderbook_delta for `tickers` plus the trade/ticker/lifecycle firehose; waits for the replies."""
    params = {"channels": ["orderbook_delta"], "market_tickers": tickers}
    if use_yes_price is not None:
        params["use_yes_price"] = use_yes_price
    await client.send(1, "subscribe", params)
    await client.send(2, "subscribe", {"channels": ALL})
    await client.until(lambda f: f.get("type") == "subscribed" and f["msg"]["channel"] == "market_lifecycle_v2")


async def finish(sim: Simulator, *clients: Client) -> None:
    """Wait for the feed to end, then stop the simulator while every client drains."""
    await sim.feed_done.wait()
    stopper = asyncio.create_task(sim.stop())
    await asyncio.gather(*(c.drain() for c in clients))
    await stopper


def books_from(frames: list[dict]) -> dict[str, dict[str, dict[Decimal, Decimal]]]:
    """Replay snapshots and deltas into books; asserts sizes never go negative."""
    books: dict = {}
    for frame in frames:
        msg = frame["msg"]
        if frame["type"] == "orderbook_snapshot":
            books[msg["market_ticker"]] = {
                side: {Decimal(p): Decimal(s) for p, s in msg.get(f"{side}_dollars_fp", [])} for side in ("yes", "no")
            }
        elif frame["type"] == "orderbook_delta":
            side = books[msg["market_ticker"]][msg["side"]]
            price = Decimal(msg["price_dollars"])
            size = side.get(price, Decimal(0)) + Decimal(msg["delta_fp"])
            assert size >= 0, msg
            side[price] = size
            if size == 0:
                del side[price]
    return books


def rest_book(body: dict) -> dict[str, dict[Decimal, Decimal]]:
    return {side: {Decimal(p): Decimal(s) for p, s in body["orderbook_fp"][f"{side}_dollars"]} for side in ("yes", "no")}


# -- subscriptions, replies, seq ----------------------------------------------------------------

def test_subscribe_replies_and_seq_per_sid():
    async def body():
        async with Simulator(options(max_events=400)) as sim:
            tickers = await tickers_of(sim)
            client = await Client.open(sim)
            await client.send(1, "subscribe", {"channels": ["orderbook_delta", "trade"], "market_tickers": tickers[:3]})
            first = await client.next()
            assert first == {"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}}
            await client.send(2, "list_subscriptions")
            listed = await client.until(lambda f: f.get("id") == 2)
            assert listed == {"id": 2, "type": "ok", "subscriptions": [{"channel": "orderbook_delta", "sid": 1},
                                                                       {"channel": "trade", "sid": 2}]}
            await finish(sim, client)
        frames = client.data()
        assert {"id": 1, "type": "subscribed", "msg": {"channel": "trade", "sid": 2}} in frames
        book_seqs = [f["seq"] for f in frames if f.get("sid") == 1]
        assert book_seqs == list(range(1, len(book_seqs) + 1)) and len(book_seqs) > 10
        assert [f["type"] for f in frames if f.get("sid") == 1][:3] == ["orderbook_snapshot"] * 3
        trades = [f for f in frames if f["type"] == "trade"]
        assert trades and all("seq" not in f and f["sid"] == 2 for f in trades)
        assert all(f["msg"]["market_ticker"] in tickers[:3] for f in trades)
        assert all(isinstance(f["sending_ts_ms"], int) for f in frames if f["type"] in ("trade", "orderbook_delta"))
        assert client.close_code == 1001

    run(body())


def test_unsubscribe_and_update_subscription_replies():
    async def body():
        async with Simulator(options()) as sim:
            tickers = await tickers_of(sim)
            client = await Client.open(sim)
            await client.send(1, "subscribe", {"channels": ["ticker"], "market_tickers": tickers[:1]})
            await client.until(lambda f: f.get("type") == "subscribed")
            await client.send(2, "update_subscription", {"sids": [1], "market_tickers": tickers[1:3], "action": "add_markets"})
            added = await client.until(lambda f: f.get("id") == 2)
            assert added == {"id": 2, "sid": 1, "type": "ok", "market_tickers": tickers[:3]}
            await client.send(3, "update_subscription", {"sid": 1, "market_tickers": [tickers[0]], "action": "delete_markets"})
            deleted = await client.until(lambda f: f.get("id") == 3)
            assert deleted["market_tickers"] == tickers[1:3]
            await client.send(4, "unsubscribe", {"sids": [1]})
            assert await client.until(lambda f: f.get("type") == "unsubscribed") == {"id": 4, "sid": 1, "type": "unsubscribed"}
            await client.send(5, "list_subscriptions")
            assert (await client.until(lambda f: f.get("id") == 5))["subscriptions"] == []
            await client.ws.close()

    run(body())


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ({"id": 9, "cmd": "subscribe_all"}, 5),
        ({"id": 9, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}, 14),
        ({"id": 9, "cmd": "subscribe", "params": {"channels": ["fills_v9"]}}, 8),
        ({"id": 9, "cmd": "subscribe"}, 2),
        ({"id": 9, "cmd": "subscribe", "params": {"channels": []}}, 3),
        ({"id": 9, "cmd": "subscribe", "params": {"channels": ["trade"], "market_ticker": "NOPE-1"}}, 16),
        ({"id": 9, "cmd": "unsubscribe", "params": {"sids": [42]}}, 7),
        ({"id": 9, "cmd": "unsubscribe", "params": {}}, 4),
        ({"id": 9, "cmd": "update_subscription", "params": {"sids": [1, 2], "action": "add_markets"}}, 12),
        ({"id": 9, "cmd": "update_subscription", "params": {"sids": [1]}}, 15),
        ({"id": 9, "cmd": "update_subscription", "params": {"sids": [1], "action": "merge"}}, 13),
    ],
)
def test_error_codes(command, code):
    async def body():
        async with Simulator(options()) as sim:
            client = await Client.open(sim)
            await client.send(1, "subscribe", {"channels": ["trade"]})
            await client.until(lambda f: f.get("type") == "subscribed")
            await client.ws.send(json.dumps(command))
            error = await client.until(lambda f: f.get("type") == "error")
            assert error["id"] == 9 and error["msg"]["code"] == code and error["msg"]["msg"]
            await client.ws.send("{not json")
            assert (await client.until(lambda f: f.get("type") == "error")) ["msg"]["code"] == 1
            await client.ws.close()

    run(body())


# -- books: snapshot + deltas == REST; get_snapshot; use_yes_price -------------------------------

def test_snapshot_then_deltas_match_rest_orderbook():
    async def body():
        async with Simulator(options(markets=12, max_events=1500, hold_feed=True)) as sim:
            tickers = await tickers_of(sim)
            client = await Client.open(sim)
            await subscribe_all(client, tickers)
            sim.start_feed()
            await sim.feed_done.wait()
            async with httpx.AsyncClient() as http:
                rest = {t: rest_book((await http.get(f"{sim.rest_url}/markets/{t}/orderbook")).json()) for t in tickers}
            await finish(sim, client)
        books = books_from([f for f in client.data() if f.get("sid") == 1])
        assert books == rest
        for raw in rest.values():
            assert all(size > 0 for side in raw.values() for size in side.values())

    run(body())


def test_get_snapshot_sends_fresh_snapshots_with_next_seq():
    async def body():
        async with Simulator(options(rate=1000)) as sim:
            tickers = await tickers_of(sim)
            client = await Client.open(sim)
            await client.send(1, "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers[:2]})
            for _ in range(30):
                await client.until(lambda f: f.get("type") == "orderbook_delta")
            await client.send(2, "update_subscription", {"sids": [1], "market_tickers": [tickers[1]], "action": "get_snapshot"})
            ok = await client.until(lambda f: f.get("id") == 2)
            snapshot = await client.next()
            await client.ws.close()
        book = [f for f in client.data() if f.get("sid") == 1 and f["type"].startswith("orderbook_")]
        before = book[:-1]
        assert book[-1] == snapshot
        assert ok == {"id": 2, "sid": 1, "seq": before[-1]["seq"], "type": "ok", "market_tickers": [tickers[1]]}
        assert snapshot["type"] == "orderbook_snapshot" and snapshot["seq"] == ok["seq"] + 1
        assert books_from([snapshot])[tickers[1]] == books_from(before)[tickers[1]]

    run(body())


def test_use_yes_price_puts_no_side_on_yes_scale():
    async def body():
        async with Simulator(options(max_events=600, hold_feed=True)) as sim:
            tickers = await tickers_of(sim)
            plain, flipped = await Client.open(sim), await Client.open(sim)
            await subscribe_all(plain, tickers, use_yes_price=False)
            await subscribe_all(flipped, tickers, use_yes_price=True)
            sim.start_feed()
            await finish(sim, plain, flipped)
        pairs = list(zip((f for f in plain.data() if f.get("sid") == 1), (f for f in flipped.data() if f.get("sid") == 1)))
        assert len(pairs) > 100
        for a, b in pairs:
            if a["type"] == "orderbook_delta":
                scale = 1 - Decimal(a["msg"]["price_dollars"]) if a["msg"]["side"] == "no" else None
                assert Decimal(b["msg"]["price_dollars"]) == (scale if scale is not None else Decimal(a["msg"]["price_dollars"]))
            else:
                no_a = {1 - Decimal(p) for p, _ in a["msg"].get("no_dollars_fp", [])}
                assert no_a == {Decimal(p) for p, _ in b["msg"].get("no_dollars_fp", [])}
                assert a["msg"].get("yes_dollars_fp") == b["msg"].get("yes_dollars_fp")

    run(body())


# -- one universe, many connections; determinism ---------------------------------------------

def test_two_connections_see_the_same_events_in_the_same_order():
    async def body():
        async with Simulator(options(max_events=1500, hold_feed=True, lifecycle_rate=50)) as sim:
            tickers = await tickers_of(sim)
            a, b = await Client.open(sim), await Client.open(sim)
            await subscribe_all(a, tickers)
            await subscribe_all(b, tickers)
            sim.start_feed()
            await finish(sim, a, b)
        stream = lambda c: [(f["type"], json.dumps(f["msg"])) for f in c.data() if f["type"] != "subscribed"]
        assert len(stream(a)) > 800 and stream(a) == stream(b)
        assert any(t == "market_lifecycle_v2" for t, _ in stream(a))

    run(body())


def _truth_of(tmp_path: Path, name: str, **overrides) -> list[dict]:
    async def body():
        opts = options(rate=50_000, max_events=3000, anchor_ms=1_795_000_000_000, truth=tmp_path / name, **overrides)
        async with Simulator(opts) as sim:
            await sim.feed_done.wait()
    run(body())
    return read_truth(tmp_path / name)


def test_same_seed_same_events(tmp_path):
    first, second = _truth_of(tmp_path, "a.jsonl"), _truth_of(tmp_path, "b.jsonl")
    assert first == second and len(first) > 3000
    trades = [t for t in first if t["table"] == "trades"]
    assert len({t["trade_id"] for t in trades}) == len(trades) > 100
    other = _truth_of(tmp_path, "c.jsonl", seed=8)
    assert {t["trade_id"] for t in trades}.isdisjoint(t["trade_id"] for t in other if t["table"] == "trades")
    ts = [t["ts_ms"] for t in first if t["index"] is not None]
    assert ts == sorted(ts) and ts[0] == 1_795_000_000_000


def test_stream_has_identical_twin_deltas_subpenny_and_fractional_values(tmp_path):
    truth = _truth_of(tmp_path, "t.jsonl", markets=20)
    deltas = [tuple(t[k] for k in ("market_ticker", "ts_ms", "side", "price_dollars", "delta_fp")) for t in truth
              if t["table"] == "orderbook_deltas"]
    assert any(a == b for a, b in zip(deltas, deltas[1:]))
    prices = [d[3] for d in deltas]
    assert any(len(p.split(".")[1]) == 6 for p in prices) and any(Decimal(p) % Decimal("0.01") for p in prices)
    assert any(not d[4].endswith(".00") for d in deltas)
    assert all(t["use_yes_price"] is False for t in truth if t["table"] == "orderbook_deltas")


def test_delta_rendering_equals_json_of_msg():
    import random

    gen = Generator(build_universe(random.Random(1), 10, 0), random.Random(2), 1000.0, 0, 10)
    events = [e for _ in range(500) for e in gen.step()]
    assert all(e.body() == json.dumps(e.msg, separators=(",", ":")) for e in events)


# -- faults -----------------------------------------------------------------------------------

def _keys(frame_type: str, msg: dict) -> tuple | None:
    """Dedup key of a received event, comparable with truth lines."""
    if frame_type == "trade":
        return ("trades", msg["trade_id"])
    if frame_type == "orderbook_delta":
        return ("orderbook_deltas", *(msg[k] for k in ("market_ticker", "ts_ms", "side", "price_dollars", "delta_fp")))
    if frame_type == "ticker":
        return ("tickers", json.dumps(msg, sort_keys=True))
    return None


def _truth_key(line: dict) -> tuple | None:
    body = {k: v for k, v in line.items() if k not in ("table", "index")}
    if line["table"] == "trades":
        return ("trades", line["trade_id"])
    if line["table"] == "orderbook_deltas":
        return ("orderbook_deltas", *(line[k] for k in ("market_ticker", "ts_ms", "side", "price_dollars", "delta_fp")))
    if line["table"] == "tickers":
        return ("tickers", json.dumps(body, sort_keys=True))
    return None


def test_drops_never_take_an_event_from_every_connection(tmp_path):
    async def body():
        opts = options(rate=10_000, max_events=4000, hold_feed=True, faults="gaps", drop_probability=0.3,
                       lifecycle_rate=0, truth=tmp_path / "truth.jsonl")
        async with Simulator(opts) as sim:
            tickers = await tickers_of(sim)
            clients = [await Client.open(sim) for _ in range(3)]
            for client in clients:
                await subscribe_all(client, tickers)
            sim.start_feed()
            await finish(sim, *clients)
        return clients

    clients = run(body())
    union: Counter = Counter()
    for client in clients:
        got = Counter(k for f in client.data() if (k := _keys(f["type"], f["msg"])))
        union |= got
        seqs = [f["seq"] for f in client.data() if f.get("sid") == 1]
        assert any(b > a + 1 for a, b in zip(seqs, seqs[1:])), "each connection should see seq gaps"
    truth = Counter(k for line in read_truth(tmp_path / "truth.jsonl") if line["index"] is not None
                    if (k := _truth_key(line)))
    assert union == truth


def test_duplicates_repeat_frame_and_seq():
    async def body():
        async with Simulator(options(max_events=800, hold_feed=True, faults="duplicates", duplicate_probability=0.1)) as sim:
            tickers = await tickers_of(sim)
            client = await Client.open(sim)
            await subscribe_all(client, tickers)
            sim.start_feed()
            await finish(sim, client)
        book = [raw for raw in client.frames if b'"sid":1,' in raw]
        repeats = [a for a, b in zip(book, book[1:]) if a == b]
        assert repeats and all(b'"seq":' in r for r in repeats)
        seqs = [f["seq"] for f in client.data() if f.get("sid") == 1]
        assert sorted(set(seqs)) == list(range(1, max(seqs) + 1)) and len(seqs) > len(set(seqs))

    run(body())


def test_every_malformed_catalogue_entry_is_sent_between_valid_frames(tmp_path):
    async def body():
        opts = options(max_events=300, hold_feed=True, faults="malformed", malformed_probability=0.5,
                       truth=tmp_path / "truth.jsonl")
        async with Simulator(opts) as sim:
            tickers = await tickers_of(sim)
            client = await Client.open(sim)
            await subscribe_all(client, tickers)
            sim.start_feed()
            await finish(sim, client)
            return client, list(sim.injected)

    client, injected = run(body())
    assert {name for _, name, _ in injected} == set(CATALOGUE)
    digests = [hashlib.sha256(raw).hexdigest() for raw in client.frames]
    assert Counter(d for _, _, d in injected) <= Counter(digests)
    bad = {d for _, _, d in injected}
    clean = Client(None)
    clean.frames = [raw for raw, d in zip(client.frames, digests) if d not in bad]
    valid = Counter(k for f in clean.data() if (k := _keys(f["type"], f["msg"])))
    truth = Counter(k for line in read_truth(tmp_path / "truth.jsonl") if line["index"] is not None
                    if (k := _truth_key(line)))
    assert valid == truth  # malformed frames are extra: no valid event was replaced


def test_slow_consumer_error_25_on_overflow_and_injected():
    async def body():
        async with Simulator(options(buffer_limit=3)) as sim:
            tickers = await tickers_of(sim)
            client = await Client.open(sim)
            await client.send(1, "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers})
            error = await client.until(lambda f: f.get("type") == "error")
            assert error == {"sid": 1, "type": "error", "msg": {"code": 25, "msg": "Subscription buffer overflow"}}
            await client.ws.close()
        async with Simulator(options(faults="slow", slow_every=0.4)) as sim:
            client = await Client.open(sim)
            await client.send(1, "subscribe", {"channels": ["trade", "ticker"]})
            error = await client.until(lambda f: f.get("type") == "error", timeout=3)
            assert error["msg"]["code"] == 25 and error["sid"] in (1, 2)
            await client.send(2, "list_subscriptions")
            listed = await client.until(lambda f: f.get("id") == 2)
            assert [s["sid"] for s in listed["subscriptions"]] == [s for s in (1, 2) if s != error["sid"]]
            await client.ws.close()

    run(body())


def test_disconnects_are_staggered_across_connections():
    async def body():
        async with Simulator(options(faults="disconnects", disconnect_every=0.9)) as sim:
            clients = [await Client.open(sim) for _ in range(3)]
            loop = asyncio.get_running_loop()

            async def closed_at(client: Client) -> tuple[float, int | None]:
                await client.send(1, "subscribe", {"channels": ["trade"]})
                await client.drain()
                return loop.time(), client.close_code

            results = await asyncio.gather(*(closed_at(c) for c in clients))
        times = sorted(t for t, _ in results)
        assert all(b - a > 0.15 for a, b in zip(times, times[1:]))
        assert {code for _, code in results} <= {1012, None}

    run(body())


def test_per_connection_fault_override_in_url():
    async def body():
        async with Simulator(options(faults="malformed", malformed_probability=1.0, max_events=100, hold_feed=True)) as sim:
            clean, noisy = await Client.open(sim, "?faults="), await Client.open(sim)
            for client in (clean, noisy):
                await client.send(1, "subscribe", {"channels": ["trade", "ticker"]})
                await client.until(lambda f: f.get("type") == "subscribed" and f["msg"]["channel"] == "ticker")
            sim.start_feed()
            await finish(sim, clean, noisy)
        assert len(noisy.frames) > len(clean.frames) == len(clean.data())
        with pytest.raises(InvalidStatus):
            async with Simulator(options()) as sim:
                await connect(sim.ws_url + "?faults=meteor")

    run(body())


def test_duration_closes_connections_with_1001():
    async def body():
        async with Simulator(options(duration=0.6)) as sim:
            client = await Client.open(sim)
            await client.send(1, "subscribe", {"channels": ["trade"]})
            await client.drain()
            await sim.wait_stopped()
        assert client.close_code == 1001

    run(body())


# -- auth ------------------------------------------------------------------------------------

def test_signatures_required_when_public_key_configured(tmp_path):
    private, public = generate_keypair()
    other_private, _ = generate_keypair()
    (tmp_path / "pub.pem").write_bytes(public)

    async def body():
        async with Simulator(options(public_key=tmp_path / "pub.pem")) as sim:
            path = "/trade-api/v2/markets"
            async with httpx.AsyncClient() as http:
                missing = await http.get(sim.rest_url + "/markets")
                forged = await http.get(sim.rest_url + "/markets", headers=sign_headers("k1", other_private, "GET", path))
                good = await http.get(sim.rest_url + "/markets?limit=2",
                                      headers=sign_headers("k1", private, "GET", path + "?limit=2"))
            assert missing.status_code == 401 and "missing" in missing.json()["error"]["message"]
            assert forged.status_code == 401 and "signature" in forged.json()["error"]["message"]
            assert good.status_code == 200 and len(good.json()["markets"]) == 2
            with pytest.raises(InvalidStatus) as refused:
                await connect(sim.ws_url, additional_headers=sign_headers("k1", other_private, "GET", WS_PATH))
            assert refused.value.response.status_code == 401
            ws = await connect(sim.ws_url, additional_headers=sign_headers("k1", private, "GET", WS_PATH))
            await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"]}}))
            assert json.loads(await ws.recv())["type"] == "subscribed"
            await ws.close()

    run(body())


# -- REST ------------------------------------------------------------------------------------

def test_rest_pagination_filters_and_shapes():
    anchor = 1_795_000_000_000

    async def body():
        async with Simulator(options(markets=25, anchor_ms=anchor, max_events=2000, rate=20_000)) as sim:
            await sim.feed_done.wait()
            async with httpx.AsyncClient(base_url=sim.rest_url) as http:
                seen, cursor = [], None
                while cursor != "":
                    page = (await http.get("/markets", params={"limit": 10, **({"cursor": cursor} if cursor else {})})).json()
                    assert len(page["markets"]) <= 10
                    seen += [m["ticker"] for m in page["markets"]]
                    cursor = page["cursor"]
                assert len(seen) == len(set(seen)) == 25
                since = anchor // 1000 - 86_400 + 10
                recent = (await http.get("/markets", params={"min_updated_ts": since, "mve_filter": "exclude", "limit": 1000})).json()["markets"]
                assert [m["ticker"] for m in recent] == seen[10:]
                market = (await http.get(f"/markets/{seen[0]}")).json()["market"]
                for field in ("updated_time", "status", "price_level_structure", "price_ranges", "yes_bid_dollars",
                              "volume_fp", "open_interest_fp", "fractional_trading_enabled"):
                    assert field in market
                assert (await http.get("/markets/NOPE-1")).status_code == 404
                assert (await http.get("/markets", params={"status": "bogus"})).status_code == 400
                opened = (await http.get("/markets", params={"status": "open", "limit": 1000})).json()["markets"]
                assert opened and {m["status"] for m in opened} == {"active"}
                events = (await http.get("/events", params={"limit": 2, "with_nested_markets": "true"})).json()
                assert len(events["events"]) == 2 and events["cursor"] and "markets" in events["events"][0]
                assert len((await http.get("/series")).json()["series"]) == 3
                await _check_trades(http, seen[0])

    run(body())


async def _check_trades(http: httpx.AsyncClient, ticker: str) -> None:
    everything = (await http.get("/markets/trades", params={"limit": 1000})).json()["trades"]
    paged, cursor = [], None
    while cursor != "":
        page = (await http.get("/markets/trades", params={"limit": 50, **({"cursor": cursor} if cursor else {})})).json()
        paged += page["trades"]
        cursor = page["cursor"]
    assert [t["trade_id"] for t in paged] == [t["trade_id"] for t in everything] and len(paged) > 100
    times = [t["created_time"] for t in paged]
    assert times == sorted(times, reverse=True)
    one = (await http.get("/markets/trades", params={"ticker": ticker, "limit": 1000})).json()["trades"]
    assert one and {t["ticker"] for t in one} == {ticker}
    assert (await http.get("/markets/trades", params={"min_ts": 4_000_000_000})).json()["trades"] == []


def test_lifecycle_changes_show_in_rest(tmp_path):
    async def body():
        opts = options(rate=1000, max_events=1500, lifecycle_rate=100, truth=tmp_path / "truth.jsonl")
        async with Simulator(opts) as sim:
            await sim.feed_done.wait()
            async with httpx.AsyncClient(base_url=sim.rest_url) as http:
                markets = (await http.get("/markets", params={"limit": 1000})).json()["markets"]
        latest = {line["market_ticker"]: line for line in read_truth(tmp_path / "truth.jsonl") if line["table"] == "markets"}
        assert {"activated", "determined"} <= {l["event_type"] for l in read_truth(tmp_path / "truth.jsonl")
                                               if l["table"] == "markets"}
        by_ticker = {m["ticker"]: m for m in markets}
        assert set(by_ticker) == set(latest)
        for ticker, line in latest.items():
            assert by_ticker[ticker]["status"] == line["status"]
            assert by_ticker[ticker]["updated_time"] == line["updated_time"]

    run(body())


# -- options ----------------------------------------------------------------------------------

def test_options_from_args():
    parser = add_arguments(argparse.ArgumentParser())
    opts = options_from_args(parser.parse_args(["--port", "0", "--faults", "gaps,slow", "--rate", "5", "--seed", "3"]))
    assert (opts.port, opts.faults, opts.rate, opts.seed, opts.markets) == (0, frozenset({"gaps", "slow"}), 5.0, 3, 20)
    with pytest.raises(ValueError):
        options_from_args(parser.parse_args(["--faults", "gaps,meteor"]))


def test_heartbeat_pings_carry_heartbeat_body():
    import logging

    records: list[str] = []
    logger = logging.getLogger("test.simulator.client")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(type("Keep", (logging.Handler,), {"emit": lambda self, r: records.append(r.getMessage())})())

    async def body():
        async with Simulator(options(ping_interval=0.1)) as sim:
            ws = await connect(sim.ws_url, logger=logger)
            await asyncio.sleep(0.35)
            await ws.close()

    run(body())
    assert sum("PING" in r and "heartbeat" in r for r in records) >= 2


def test_simulator_thread_for_synchronous_callers():
    from kstore.simulator import SimulatorThread

    with SimulatorThread(options(max_events=50)) as sim:
        sim.wait(lambda s: s.feed_done.wait())
        markets = httpx.get(sim.rest_url + "/markets").json()["markets"]
        assert len(markets) >= 8 and sim.port > 0


# -- a catalogue at the exchange's size (issue 11) ---------------------------------------------

async def every_page(http: httpx.AsyncClient, path: str, key: str, **params) -> list[dict]:
    found, query = [], {"limit": 1000, **params}
    while True:
        answer = (await http.get(path, params=query)).json()
        found += answer[key]
        if not answer["cursor"]:
            return found
        query["cursor"] = answer["cursor"]


def test_a_catalogue_lists_mve_markets_and_filters_them_on_the_server():
    async def body():
        async with Simulator(options(catalogue=5_000, mve=3_000, hold_feed=True)) as sim:
            async with httpx.AsyncClient(base_url=sim.rest_url, timeout=30) as http:
                everything = await every_page(http, "/markets", "markets")
                plain = await every_page(http, "/markets", "markets", mve_filter="exclude")
                mve = await every_page(http, "/markets", "markets", mve_filter="only")
                open_plain = await every_page(http, "/markets", "markets", mve_filter="exclude",
                                              status="open")
                series = await every_page(http, "/markets", "markets", series_ticker="KXCAT00002")
                events = await every_page(http, "/events", "events", limit=200)
                refused = await http.get("/markets", params={"min_updated_ts": 1})
                changed = await http.get("/markets", params={"min_updated_ts": 1, "mve_filter": "exclude", "limit": 1000})
            return sim.universe, everything, plain, mve, open_plain, series, events, refused, changed
    universe, everything, plain, mve, open_plain, series, events, refused, changed = run(body())
    tickers = [m["ticker"] for m in everything]
    assert len(tickers) == len(set(tickers)) == 5_008, "every market once across the pages"
    assert {m["ticker"] for m in mve} == {m.ticker for m in universe.order if m.mve_collection}
    assert len(mve) == 3_000 and all(m["mve_collection_ticker"].startswith("KXMVE") for m in mve)
    assert len(plain) == 2_008 and not any("mve_collection_ticker" in m for m in plain)
    assert {m["ticker"] for m in open_plain} == {
        m.ticker for m in universe.order if m.status == "active" and not m.mve_collection}
    assert {m["ticker"] for m in series} == {m.ticker for m in universe.by_series["KXCAT00002"]}
    assert not any(e["event_ticker"].startswith("KXMVE") for e in events), "/events leaves MVE out"
    assert refused.status_code == 400 and "mve_filter=exclude" in refused.text
    assert changed.status_code == 200 and len(changed.json()["markets"]) == 1000


def test_the_per_subscription_cap_answers_error_26():
    async def body():
        async with Simulator(options(subscription_cap=3, hold_feed=True)) as sim:
            tickers = await tickers_of(sim)
            client = await Client.open(sim)
            await client.send(1, "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers[:4]})
            refused = await client.until(lambda f: f.get("id") == 1)
            await client.send(2, "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers[:2]})
            await client.until(lambda f: f.get("id") == 2)
            await client.send(3, "update_subscription", {"sids": [1], "market_tickers": tickers[2:4], "action": "add_markets"})
            too_many = await client.until(lambda f: f.get("id") == 3)
            await client.send(4, "update_subscription", {"sids": [1], "market_tickers": tickers[2:3], "action": "add_markets"})
            added = await client.until(lambda f: f.get("id") == 4)
            await client.ws.close()
            return refused, too_many, added, tickers
    refused, too_many, added, tickers = run(body())
    assert refused["type"] == too_many["type"] == "error"
    assert refused["msg"]["code"] == too_many["msg"]["code"] == 26
    assert added["type"] == "ok" and added["market_tickers"] == tickers[:3]


def test_a_catalogue_leaves_the_active_markets_and_their_events_as_they_were():
    def events(**extra) -> list:
        universe = build_universe(random.Random(7), 8, 1_700_000_000_000)
        if extra:
            add_catalogue(universe, 7, 4_000, 1_000, 1_700_000_000_000)
        generator = Generator(universe, random.Random(7), 1000, 1_700_000_000_000, 8, lifecycle_rate=0)
        generator.quiet_share = extra.get("quiet_share", 0.0)
        out = []
        while len(out) < 3_000:
            out += generator.step()
        return out
    alone, beside, busy = events(), events(quiet_share=0.0), events(quiet_share=0.05)
    assert [e.body() for e in alone] == [e.body() for e in beside]
    hot = sum(1 for e in busy if not e.ticker.startswith("KXCAT") and not e.ticker.startswith("KXMVE"))
    assert 0.9 < hot / len(busy) < 1.0, "the rate concentrates on the active markets"
def test_same_seed_other_anchor_other_trade_ids(tmp_path):
    """A rerun of one seed (new anchor: the wall clock) never repeats a trade id or a market
    ticker, so a second `kstore up` on a used home adds to it and never collides."""
    first = _truth_of(tmp_path, "a.jsonl")
    async def body():
        opts = options(rate=50_000, max_events=3000, anchor_ms=1_795_000_060_000,
                       truth=tmp_path / "later.jsonl")
        async with Simulator(opts) as sim:
            await sim.feed_done.wait()
    run(body())
    later = read_truth(tmp_path / "later.jsonl")
    ids = [{t["trade_id"] for t in truth if t["table"] == "trades"} for truth in (first, later)]
    assert len(ids[0]) > 100 and len(ids[1]) > 100 and ids[0].isdisjoint(ids[1])
    tickers = [{t["market_ticker"] for t in truth if t["table"] == "markets"} for truth in (first, later)]
    assert tickers[0].isdisjoint(tickers[1]), "a rerun lists its own markets"
    sizes = [[t["count_fp"] for t in truth if t["table"] == "trades"] for truth in (first, later)]
    assert sizes[0] == sizes[1], "the seed still decides everything else"
