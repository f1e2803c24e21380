"""Client commands (§3.2) and their replies and error codes (§3.3), as a table of handlers.

A handler validates everything before changing anything, so a command that fails with an
error reply leaves the connection's subscriptions as they were.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Callable

from . import frames
from .session import Session, Subscription

if TYPE_CHECKING:
    from .server import Simulator

CHANNELS = ("orderbook_delta", "trade", "ticker", "market_lifecycle_v2")
GLOBAL_CHANNELS = frozenset({"market_lifecycle_v2"})  # filters ignored
TICKER_PATTERN = re.compile(r"^[A-Z0-9-]+$")


class CommandError(Exception):
    def __init__(self, code: int, detail: str | None = None) -> None:
        super().__init__(code, detail)
        self.code, self.detail = code, detail


def dispatch(sim: Simulator, session: Session, raw: str | bytes) -> None:
    """Handle one client frame; every failure becomes an error reply, never an exception."""
    try:
        command = json.loads(raw)
    except ValueError:
        return session.push(frames.error(None, 1))
    if not isinstance(command, dict):
        return session.push(frames.error(None, 1))
    cmd_id, name = command.get("id"), command.get("cmd")
    handler = COMMANDS.get(name) if isinstance(name, str) else None
    try:
        if handler is None:
            raise CommandError(5, f"Unknown command {name!r}")
        handler(sim, session, cmd_id, command.get("params"))
    except CommandError as exc:
        session.push(frames.error(cmd_id, exc.code, exc.detail))


def _params(params: object) -> dict:
    if not isinstance(params, dict):
        raise CommandError(2)
    return params


def _tickers(sim: Simulator, params: dict) -> list[str] | None:
    """The market filter (`market_ticker` or `market_tickers`), or None when absent."""
    if "market_tickers" in params:
        tickers = params["market_tickers"]
    elif "market_ticker" in params:
        tickers = [params["market_ticker"]]
    else:
        return None
    if not isinstance(tickers, list) or not tickers or not all(isinstance(t, str) for t in tickers):
        raise CommandError(11, "market_tickers must be a non-empty list of strings")
    for ticker in tickers:
        if not TICKER_PATTERN.match(ticker):
            raise CommandError(11, f"Invalid market ticker {ticker!r}")
        if ticker not in sim.universe.markets:
            raise CommandError(16, f"Market not found: {ticker}")
    return list(dict.fromkeys(tickers))


def subscribe(sim: Simulator, session: Session, cmd_id: object, params: object) -> None:
    params = _params(params)
    channels = params.get("channels")
    if not isinstance(channels, list) or not channels:
        raise CommandError(3)
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise CommandError(8, f"Unknown channel name {unknown[0]!r}")
    tickers = _tickers(sim, params)
    if "orderbook_delta" in channels and tickers is None:
        raise CommandError(14)
    _within_cap(sim, len(tickers or ()))
    use_yes_price = params.get("use_yes_price", False)
    if not isinstance(use_yes_price, bool):
        raise CommandError(11, "use_yes_price must be a boolean")
    for channel in dict.fromkeys(channels):
        sub = session.subscribe(channel, None if channel in GLOBAL_CHANNELS else tickers, use_yes_price)
        session.push(frames.subscribed(cmd_id, channel, sub.sid))
        if sub.sequenced:
            send_snapshots(sim, session, sub, tickers)
    sim.note_subscribed()


def send_snapshots(sim: Simulator, session: Session, sub: Subscription, tickers: list[str]) -> None:
    """One orderbook_snapshot per market, each taking the sid's next seq."""
    for ticker in tickers:
        if sub.sid not in session.subs:
            return  # dropped by error 25 while queueing
        sub.seq += 1
        body = frames.snapshot_body(sim.universe.markets[ticker], sub.use_yes_price)
        session.push_data(sub, frames.data_frame("orderbook_snapshot", sub.sid, sub.seq, body, sim.now_ms))


def unsubscribe(sim: Simulator, session: Session, cmd_id: object, params: object) -> None:
    sids = _params(params).get("sids")
    if not isinstance(sids, list) or not sids:
        raise CommandError(4)
    if not all(isinstance(sid, int) for sid in sids):
        raise CommandError(11, "sids must be integers")
    missing = [sid for sid in sids if sid not in session.subs]
    if missing:
        raise CommandError(7, f"Unknown subscription ID {missing[0]!r}")
    for sid in dict.fromkeys(sids):
        session.unsubscribe(sid)
        session.push(frames.unsubscribed(cmd_id, sid))


def list_subscriptions(sim: Simulator, session: Session, cmd_id: object, params: object) -> None:
    subs = [{"channel": sub.channel, "sid": sub.sid} for sub in session.subs.values()]
    session.push(frames.ok_subscriptions(cmd_id, subs))


def update_subscription(sim: Simulator, session: Session, cmd_id: object, params: object) -> None:
    params = _params(params)
    sub = _one_sid(session, params)
    action = params.get("action")
    if action is None:
        raise CommandError(15)
    handler = ACTIONS.get(action)
    if handler is None or sub.channel in GLOBAL_CHANNELS:
        raise CommandError(13, f"Action {action!r} is not supported on {sub.channel}")
    tickers = _tickers(sim, params)
    if tickers is None:
        raise CommandError(14)
    handler(sim, session, cmd_id, sub, tickers)


def _one_sid(session: Session, params: dict) -> Subscription:
    sids = params["sids"] if "sids" in params else [params["sid"]] if "sid" in params else None
    if sids is None:
        raise CommandError(4)
    if not isinstance(sids, list) or len(sids) != 1:
        raise CommandError(12)
    if not isinstance(sids[0], int):
        raise CommandError(11, "sid must be an integer")
    if sids[0] not in session.subs:
        raise CommandError(7, f"Unknown subscription ID {sids[0]!r}")
    return session.subs[sids[0]]


def _filtered(sub: Subscription) -> dict[str, None]:
    if sub.markets is None:
        raise CommandError(11, "Subscription has no market filter (all markets)")
    return sub.markets


def _within_cap(sim: Simulator, count: int) -> None:
    """Error 26 when one subscription would hold more markets than `subscription_cap`."""
    cap = sim.options.subscription_cap
    if cap is not None and count > cap:
        raise CommandError(26, f"Subscription market limit exceeded ({count} > {cap})")


def add_markets(sim: Simulator, session: Session, cmd_id: object, sub: Subscription, tickers: list[str]) -> None:
    markets = _filtered(sub)
    new = [t for t in tickers if t not in markets]
    _within_cap(sim, len(markets) + len(new))
    session.add_tickers(sub, new)
    session.push(frames.ok_markets(cmd_id, sub.sid, sub.seq if sub.sequenced else None, list(markets)))
    if sub.sequenced:
        send_snapshots(sim, session, sub, new)


def delete_markets(sim: Simulator, session: Session, cmd_id: object, sub: Subscription, tickers: list[str]) -> None:
    markets = _filtered(sub)
    session.remove_tickers(sub, tickers)
    session.push(frames.ok_markets(cmd_id, sub.sid, sub.seq if sub.sequenced else None, list(markets)))


def get_snapshot(sim: Simulator, session: Session, cmd_id: object, sub: Subscription, tickers: list[str]) -> None:
    """Fresh snapshots on the same sid, with the next seqs; the subscription is unchanged."""
    if not sub.sequenced:
        raise CommandError(13, "get_snapshot is only supported on orderbook_delta")
    outside = [t for t in tickers if t not in _filtered(sub)]
    if outside:
        raise CommandError(11, f"Market {outside[0]} is not in subscription {sub.sid}")
    session.push(frames.ok_markets(cmd_id, sub.sid, sub.seq, tickers))
    send_snapshots(sim, session, sub, tickers)


Handler = Callable[["Simulator", Session, object, object], None]
COMMANDS: dict[str, Handler] = {
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "list_subscriptions": list_subscriptions,
    "update_subscription": update_subscription,
}
ACTIONS = {"add_markets": add_markets, "delete_markets": delete_markets, "get_snapshot": get_snapshot}
