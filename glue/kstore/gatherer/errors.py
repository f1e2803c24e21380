"""What the gatherer does with each error code the exchange documents (KALSHI-API.md §3.3).

One table, `CODES`: code → (action, meaning). Decision 0020 gives the reasons. Actions:
- retry: send the same command again after a backoff (10, 17, 18 are "not a user error"; 27 is
  a rate limit; 1 may be transient); after MAX_RETRIES the connection is dropped, and the
  reconnect resubscribes everything with fresh snapshots;
- resubscribe: the exchange no longer serves the subscription (25 buffer overflow, 7 unknown
  sid): a feed_gaps row per affected book (kstore.gatherer.breaks), then a new subscription,
  whose snapshots re-base every book. 25 without a sid drops and renews every book subscription
  of the connection (unsubscribed first, so no book is ever delivered on two sids);
- split: a subscribe refused for its markets (26 market limit, 16 market not found) is sent
  again as two halves; a single market that is still refused is left out, with a log line;
- stop: our command is malformed in the exchange's eyes (a bug or an API change) or we are not
  authenticated: the gatherer exits non-zero with a one-line reason;
- log: codes of channels and commands we never use, and code 6 (retired): logged, ignored.
A code not in the table is logged as an error and ignored.
"""

from __future__ import annotations

import asyncio
import logging

from websockets.exceptions import ConnectionClosed

from kstore.gatherer.retry import Backoff

log = logging.getLogger("kstore.gather")

MAX_RETRIES = 5
RETRY, RESUBSCRIBE, SPLIT, STOP, LOG = "retry", "resubscribe", "split", "stop", "log"

CODES: dict[int, tuple[str, str]] = {
    1: (RETRY, "unable to process message"),
    2: (STOP, "params required"),
    3: (STOP, "channels required"),
    4: (STOP, "sids required"),
    5: (STOP, "unknown command"),
    6: (LOG, "already subscribed (retired)"),
    7: (RESUBSCRIBE, "unknown sid"),
    8: (STOP, "unknown channel"),
    9: (STOP, "authentication required"),
    10: (RETRY, "channel error (server side)"),
    11: (STOP, "invalid parameter"),
    12: (STOP, "exactly one sid required"),
    13: (STOP, "unsupported action"),
    14: (STOP, "market ticker required"),
    15: (STOP, "action required"),
    16: (SPLIT, "market not found"),
    17: (RETRY, "internal error"),
    18: (RETRY, "command timeout"),
    19: (LOG, "communications shard validation"),
    20: (LOG, "communications shard validation"),
    21: (LOG, "communications shard validation"),
    22: (LOG, "communications shard validation"),
    23: (LOG, "match IDs required"),
    24: (LOG, "index IDs required"),
    25: (RESUBSCRIBE, "subscription buffer overflow"),
    26: (SPLIT, "subscription market limit exceeded"),
    27: (RETRY, "command rate limit"),
    28: (LOG, "underlying tickers required"),
}
CAUSES = {25: "buffer_overflow", 7: "unknown_sid"}


class CommandRefused(RuntimeError):
    """The exchange refused a command in a way no retry can fix: stop with this reason."""


async def handle(connection, session, message: dict) -> None:
    """Acts on one `error` reply per CODES."""
    msg = message.get("msg") if isinstance(message.get("msg"), dict) else {}
    code, text = msg.get("code"), str(msg.get("msg", ""))[:200]
    action, meaning = CODES.get(code, (LOG, "undocumented code"))
    command = session.sent.get(message.get("id"))
    level = logging.WARNING if action in (RETRY, RESUBSCRIBE, SPLIT) else logging.ERROR
    log.log(level, "gather: exchange error %s (%s: %s) on %s: %s", code, meaning, text,
            command[0] if command else "no command", action)
    await ACTIONS[action](connection, session, message, command, code)


async def _log(connection, session, message, command, code) -> None:
    pass


async def _stop(connection, session, message, command, code) -> None:
    name = command[0] if command else "a command"
    raise CommandRefused(f"the exchange refused {name} with error {code} ({CODES[code][1]}); "
                         f"the gatherer cannot capture as configured")


async def _retry(connection, session, message, command, code) -> None:
    if command is None:
        return
    connection.spawn(_resend(session, message.get("id"), command))


async def _resend(session, command_id: int, command: tuple) -> None:
    cmd, params, attempt = command
    if attempt >= MAX_RETRIES:
        session.failure = f"{cmd} refused {attempt + 1} times"
        await session.ws.close(1011, session.failure[:100])
        return
    await asyncio.sleep(Backoff(first=0.5, ceiling=10.0, attempt=attempt).next())
    subscription = session.pending.pop(command_id, None)
    try:
        new_id = await session.send(cmd, params, attempt + 1)
    except ConnectionClosed:
        return  # the reconnect resubscribes everything
    if subscription is not None:
        session.pending[new_id] = subscription


async def _resubscribe(connection, session, message, command, code) -> None:
    sid = message.get("sid", (message.get("msg") or {}).get("sid"))
    if sid is not None:
        sids, unsubscribe = [sid], False
    elif command is not None and command[0] != "unsubscribe":
        params = command[1] or {}
        sids, unsubscribe = params.get("sids") or [params.get("sid")], False
    elif code == 25:  # no sid: every order book of the connection may be affected
        sids, unsubscribe = connection.book_sids(session), True
    else:
        return
    await connection.renew(session, [s for s in sids if s is not None],
                           CAUSES.get(code, f"error_{code}"), unsubscribe)


async def _split(connection, session, message, command, code) -> None:
    subscription = session.pending.pop(message.get("id"), None)
    if subscription is None or command is None or command[0] != "subscribe":
        return
    markets = subscription.markets
    if len(markets) <= 1:
        log.error("gather: market %s left unsubscribed: exchange error %s (%s)",
                  ", ".join(markets) or "(none)", code, CODES[code][1])
        return
    half = len(markets) // 2
    for part in (markets[:half], markets[half:]):
        await connection.subscribe(session, type(subscription)(subscription.channel, part))


ACTIONS = {RETRY: _retry, RESUBSCRIBE: _resubscribe, SPLIT: _split, STOP: _stop, LOG: _log}
