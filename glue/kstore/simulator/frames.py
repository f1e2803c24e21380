"""Wire frames: data envelopes (§3.4) and control replies (§3.3).

Data frames splice a connection's own sid/seq around the event's `msg` JSON, which is encoded
once per event; that keeps the per-connection cost to one string format.
"""

from __future__ import annotations

import json

from .universe import Market

ERRORS = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Action is not supported",
    14: "Market Ticker required",
    15: "Action required",
    16: "Market not found",
    25: "Subscription buffer overflow",
}


def encode(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"))


def data_frame(type_: str, sid: int, seq: int | None, body: str, sending_ms: int) -> str:
    if seq is None:
        return f'{{"type":"{type_}","sid":{sid},"msg":{body},"sending_ts_ms":{sending_ms}}}'
    return f'{{"type":"{type_}","sid":{sid},"seq":{seq},"msg":{body},"sending_ts_ms":{sending_ms}}}'


def error(cmd_id: int | None, code: int, detail: str | None = None, sid: int | None = None) -> str:
    """`{"id":..,"type":"error","msg":{"code":N,"msg":".."}}`; id omitted when unknown, sid on code 25."""
    frame: dict = {} if cmd_id is None else {"id": cmd_id}
    if sid is not None:
        frame["sid"] = sid
    frame["type"] = "error"
    frame["msg"] = {"code": code, "msg": detail or ERRORS.get(code, "Error")}
    return encode(frame)


def subscribed(cmd_id: int | None, channel: str, sid: int) -> str:
    return encode({"id": cmd_id, "type": "subscribed", "msg": {"channel": channel, "sid": sid}})


def unsubscribed(cmd_id: int | None, sid: int) -> str:
    return encode({"id": cmd_id, "sid": sid, "type": "unsubscribed"})


def ok_markets(cmd_id: int | None, sid: int, seq: int | None, tickers: list[str]) -> str:
    """update_subscription reply; `seq` is the last one used on the sid (it is not consumed)."""
    frame: dict = {"id": cmd_id, "sid": sid}
    if seq is not None:
        frame["seq"] = seq
    frame.update({"type": "ok", "market_tickers": tickers})
    return encode(frame)


def ok_subscriptions(cmd_id: int | None, subscriptions: list[dict]) -> str:
    return encode({"id": cmd_id, "type": "ok", "subscriptions": subscriptions})


def snapshot_body(market: Market, yes_scale: bool) -> str:
    """orderbook_snapshot `msg`; an empty side's key is omitted, as on the exchange."""
    msg: dict = {"market_ticker": market.ticker, "market_id": market.market_id}
    for side in ("yes", "no"):
        levels = market.book.wire_levels(side, market.decimals, yes_scale)
        if levels:
            msg[f"{side}_dollars_fp"] = levels
    return encode(msg)
