"""kstore reconcile: production's trades against the exchange's own record (decision 0066).

For every whole UTC hour of the window: page through the exchange's trades of that hour
(`GET /markets/trades`, and `GET /historical/trades` below the historical cutoff), compare them
with production by trade_id in one SQL call (`ops.reconcile_hour`: the hour's rows of
ops.reconciliation replaced, the missing trades returned), and write the missing ones into a
gatherer's ts database as `source = 'rest'` rows, which the deduplicator merges like any other.

Contracts: a recovered row's ts is the exchange's created_time truncated to the millisecond,
which is the WebSocket's ts_ms for that trade, so the feed's row and the recovered row share the
key (trade_id, ts) and a trade is never stored twice; a trade is written into the gatherer only
if the gatherer holds no row of that trade_id (any ts within a minute), so running reconcile
again changes no data. REST requests go through the process's budget at reconcile priority;
memory holds one hour of the record at a time.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kstore import roles, topology
from kstore.budget import RECONCILE, Budget
from kstore.gatherer.rest import ExchangeError, RestClient
from kstore.settings import Settings, SettingsError

HOUR = timedelta(hours=1)
PER_TICKER_LIMIT = 20  # up to this many markets: one filtered query each, else all and filter
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")

RECOVER = """
with fetched as (
    select * from unnest(%(ids)s::uuid [], %(ts)s::timestamptz [], %(tickers)s::text [],
        %(yes)s::numeric [], %(no)s::numeric [], %(count)s::numeric [], %(outcome)s::text [],
        %(book)s::text [], %(block)s::boolean [])
        as t (trade_id, ts, market_ticker, yes_price, no_price, count, taker_outcome_side,
              taker_book_side, is_block_trade)
),
written as (
    insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count,
        taker_outcome_side, taker_book_side, is_block_trade, gatherer_id, source)
    select f.*, %(gatherer)s, 'rest' from fetched as f
    where not exists (
        select from kstore.trades as g where g.trade_id = f.trade_id
            and g.ts between f.ts - interval '1 minute' and f.ts + interval '1 minute')
    order by f.trade_id, f.ts
    on conflict do nothing
    returning market_ticker
)
select market_ticker, count(*) from written group by market_ticker
"""
RECORD_RECOVERED = """
update ops.reconciliation as r set recovered = w.n
from unnest(%s::text [], %s::integer []) as w (market_ticker, n)
where r.hour = %s and r.market_ticker = w.market_ticker
"""


def trade_time(created: str) -> datetime:
    """created_time (RFC 3339, any fraction of a second) truncated to the millisecond: the
    trade's ts_ms on the WebSocket. ValueError if it is not such a time."""
    match = _TIME.match(created)
    if not match:
        raise ValueError(f"created_time {created!r} is not an RFC 3339 time")
    whole, fraction, zone = match.groups()
    moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    millis = int(((fraction or "") + "000")[:3])
    return moment.astimezone(timezone.utc) + timedelta(milliseconds=millis)


def hours_of(since: datetime, until: datetime) -> list[datetime]:
    """The whole UTC hours that cover [since, until)."""
    start = since.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return [start + i * HOUR for i in range(max(0, -(-(until - start) // HOUR)))]


def scheduled_window(settings: Settings, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The window of a scheduled run: `lookback` seconds up to `settle` seconds ago."""
    until = (now or datetime.now(timezone.utc)) - timedelta(seconds=settings.reconcile.settle)
    return until - timedelta(seconds=settings.reconcile.lookback), until


@dataclass
class Trades:
    """One hour of the exchange's record as parallel columns (the SQL calls take arrays)."""

    columns: dict[str, list] = field(default_factory=lambda: {k: [] for k in (
        "ids", "ts", "tickers", "yes", "no", "count", "outcome", "book", "block")})
    invalid: int = 0
    seen: set[str] = field(default_factory=set)

    def add(self, trade: dict) -> None:
        """One trade of the record, once (the live and historical reads may overlap)."""
        try:
            values = (str(uuid.UUID(trade["trade_id"])), trade_time(trade["created_time"]),
                      str(trade["ticker"]), Decimal(trade["yes_price_dollars"]),
                      Decimal(trade["no_price_dollars"]), Decimal(trade["count_fp"]),
                      trade.get("taker_outcome_side"), trade.get("taker_book_side"),
                      bool(trade.get("is_block_trade")))
        except (KeyError, TypeError, ValueError, InvalidOperation):
            self.invalid += 1
            return
        if values[0] in self.seen:
            return
        self.seen.add(values[0])
        for column, value in zip(self.columns.values(), values):
            column.append(value)

    def only(self, ids: set[str]) -> dict[str, list]:
        keep = [i for i, trade_id in enumerate(self.columns["ids"]) if trade_id in ids]
        return {name: [column[i] for i in keep] for name, column in self.columns.items()}


async def cutoff_of(rest: RestClient) -> int:
    """Unix second before which trades are only on /historical/trades (0: no such tier)."""
    try:
        answer = await rest.get("/historical/cutoff", priority=RECONCILE)
    except ExchangeError:
        return 0
    value = answer.get("trades_created_ts")
    if isinstance(value, str) and not value.isdigit():
        return int(trade_time(value).timestamp())
    return int(value or 0)


async def fetch_hour(rest: RestClient, hour: datetime, cutoff: int,
                     markets: list[str] | None) -> Trades:
    """Every trade the exchange lists for [hour, hour + 1h], for `markets` (None: every
    market). The cutoff only moves forward: the live record is read first (trades at or after
    the cutoff of that moment), then the historical one if the hour reaches below the cutoff
    read after it, so a trade that moves between the two meanwhile is read twice, never
    missed (duplicates are dropped by trade_id)."""
    low, high = int(hour.timestamp()), int((hour + HOUR).timestamp())
    trades = Trades()
    if high >= cutoff:
        await _read(rest, "/markets/trades", low, high, markets, trades)
        cutoff = await cutoff_of(rest)
    if low < cutoff:
        await _read(rest, "/historical/trades", low, high, markets, trades)
    return trades


async def _read(rest: RestClient, path: str, low: int, high: int, markets: list[str] | None,
                trades: Trades) -> None:
    per_ticker = markets if markets is not None and len(markets) <= PER_TICKER_LIMIT else [None]
    for ticker in per_ticker:
        # a second more on each side: whether the bounds are inclusive is not documented;
        # trades outside the hour only count as known (ops.reconcile_hour)
        params = {"min_ts": low - 1, "max_ts": high + 1} | ({"ticker": ticker} if ticker else {})
        async for trade in rest.pages(path, "trades", params, 1000, RECONCILE):
            trades.add(trade)


@dataclass
class Report:
    run_id: int
    since: datetime
    until: datetime
    recovered_into: str | None
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("exchange_trades", "production_trades", "missing", "recovered", "unexpected",
         "duplicated", "invalid", "rest_requests"), 0))

    def clean(self) -> bool:
        """Nothing unexpected or duplicated, and every missing trade handed to a gatherer."""
        t = self.totals
        return not (t["unexpected"] or t["duplicated"] or t["invalid"]) and \
            (not t["missing"] or self.recovered_into is not None)


def into_candidates(settings: Settings, into: str | None) -> list[str]:
    chosen = into or settings.reconcile.into
    if chosen is not None and chosen not in settings.gatherers:
        raise SettingsError(f"unknown gatherer {chosen!r} (configured: "
                            f"{', '.join(settings.gatherers)})")
    return [chosen] if chosen else list(settings.gatherers)


async def open_gatherer(settings: Settings, candidates: list[str]):
    """(gatherer id, connection as its writer) of the first candidate that answers."""
    for gid in candidates:
        try:
            dsn = topology.dsn_for(settings, f"{gid}_ts", roles.GATHERER_WRITER)
            if "user" not in conninfo_to_dict(dsn):  # a deployed DSN names no user (PGUSER)
                dsn = make_conninfo(dsn, user=roles.GATHERER_WRITER)
            return gid, await psycopg.AsyncConnection.connect(dsn, autocommit=True,
                                                              connect_timeout=5)
        except (psycopg.OperationalError, SettingsError):
            continue
    return None, None


async def run(settings: Settings, since: datetime, until: datetime,
              markets: list[str] | None = None, into: str | None = None) -> Report:
    """Reconcile [since, until) rounded out to whole hours; the report is in production."""
    hours = hours_of(since, until)
    if not hours:
        raise SettingsError("reconcile: --until must be after --since")
    candidates = into_candidates(settings, into)
    dsn = topology.dsn_for(settings, "production", roles.DEDUP)
    rest = RestClient(settings.kalshi, Budget(settings.rest.rate()))
    gid, gatherer = await open_gatherer(settings, candidates)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as production:
        report = Report(await _begin(production, hours[0], hours[-1] + HOUR, gid),
                        hours[0], hours[-1] + HOUR, gid)
        try:
            cutoff = await cutoff_of(rest)
            for hour in hours:
                await _hour(production, gatherer, rest, report, hour, cutoff, markets)
        except Exception as exc:
            await _finish(production, report, rest, f"{type(exc).__name__}: {exc}"[:500])
            raise
        finally:
            await rest.close()
            if gatherer is not None:
                await gatherer.close()
        await _finish(production, report, rest, None)
    return report


async def _begin(production, since: datetime, until: datetime, gid: str | None) -> int:
    row = await (await production.execute(
        "insert into ops.reconciliation_runs (since, until, recovered_into) values (%s, %s, %s) "
        "returning run_id", (since, until, gid))).fetchone()
    return row[0]


async def _finish(production, report: Report, rest: RestClient, error: str | None) -> None:
    report.totals["rest_requests"] = rest.requests
    await production.execute(
        "update ops.reconciliation_runs set finished_at = case when %s::text is null then now() "
        "end, rest_requests = %s, error = %s where run_id = %s",
        (error, rest.requests, error, report.run_id))


async def _hour(production, gatherer, rest: RestClient, report: Report, hour: datetime,
                cutoff: int, markets: list[str] | None) -> None:
    """One hour: fetch, compare (report rows replaced), recover, record what was recovered."""
    trades = await fetch_hour(rest, hour, cutoff, markets)
    c = trades.columns
    async with production.transaction():
        missing = {str(r[0]) for r in await (await production.execute(
            "select trade_id from ops.reconcile_hour(%s, %s, %s::uuid [], %s::timestamptz [], "
            "%s::text [], %s::text [])",
            (report.run_id, hour, c["ids"], c["ts"], c["tickers"], markets))).fetchall()}
    recovered: list[tuple[str, int]] = []
    if missing and gatherer is not None:
        recovered = await (await gatherer.execute(
            RECOVER, trades.only(missing) | {"gatherer": report.recovered_into})).fetchall()
        await production.execute(RECORD_RECOVERED, ([m for m, _ in recovered],
                                                    [n for _, n in recovered], hour))
    totals = await (await production.execute(
        "select coalesce(sum(exchange_trades), 0), coalesce(sum(production_trades), 0), "
        "coalesce(sum(missing), 0), coalesce(sum(unexpected), 0), coalesce(sum(duplicated), 0) "
        "from ops.reconciliation where run_id = %s and hour = %s",
        (report.run_id, hour))).fetchone()
    for name, value in zip(("exchange_trades", "production_trades", "missing", "unexpected",
                            "duplicated"), totals):
        report.totals[name] += int(value)
    report.totals["recovered"] += sum(n for _, n in recovered)
    report.totals["invalid"] += trades.invalid
