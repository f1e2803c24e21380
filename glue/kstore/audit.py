"""`kstore audit --truth FILE --target g1|…|production`: a database against what the exchange sent.

The simulator's truth file lists every event it emitted. The audit loads it into temporary
tables and compares set-wise, per table: rows missing from the database, rows duplicated (more
rows than events for a key), extra rows (keys the exchange never sent) and mismatched values.
Multiplicity matters for deltas: two identical events are two rows. Exit status 1 if anything
is off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psycopg

from kstore import topology
from kstore.gatherer.stream import fingerprint
from kstore.settings import Settings, SettingsError

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
META = ("table", "index")
COUNTS = ("truth", "stored", "missing", "duplicated", "extra", "mismatched")

TRUTH_TABLES = """
create temp table truth_trades (trade_id uuid, ts timestamptz, market_ticker text,
    yes_price numeric, no_price numeric, count numeric);
create temp table truth_deltas (market_ticker text, ts timestamptz, side text, price numeric,
    delta numeric);
create temp table truth_tickers (market_ticker text, ts timestamptz, fingerprint bigint);
create temp table truth_markets (market_ticker text, status text, updated_time timestamptz,
    index bigint);
"""

# Each query returns (truth, stored, missing, duplicated, extra, mismatched).
QUERIES = {
    "trades": """
with stored as (
    select trade_id, count(*) as n, min(yes_price) as yes_price, min(no_price) as no_price,
        min(count) as count, min(ts) as ts
    from kstore.trades group by trade_id
)
select
    (select count(*) from truth_trades),
    (select coalesce(sum(n), 0) from stored),
    (select count(*) from truth_trades as t where not exists
        (select from stored as s where s.trade_id = t.trade_id)),
    (select coalesce(sum(n - 1), 0) from stored where n > 1),
    (select count(*) from stored as s where not exists
        (select from truth_trades as t where t.trade_id = s.trade_id)),
    (select count(*) from truth_trades as t inner join stored as s using (trade_id)
        where (s.ts, s.yes_price, s.no_price, s.count) is distinct from
            (t.ts, t.yes_price, t.no_price, t.count))
""",
    "orderbook_deltas": """
with truth as (
    select market_ticker, ts, side, price, delta, count(*) as n
    from truth_deltas group by 1, 2, 3, 4, 5
),
stored as (
    select market_ticker, ts, side,
        case when use_yes_price and side = 'no' then 1 - price else price end as price,
        delta, count(*) as n
    from kstore.orderbook_deltas group by 1, 2, 3, 4, 5
),
joined as (
    select coalesce(t.n, 0) as expected, coalesce(s.n, 0) as found
    from truth as t full join stored as s using (market_ticker, ts, side, price, delta)
)
select
    (select coalesce(sum(expected), 0) from joined),
    (select coalesce(sum(found), 0) from joined),
    (select coalesce(sum(greatest(expected - found, 0)), 0) from joined),
    (select coalesce(sum(greatest(found - expected, 0)), 0) from joined where expected > 0),
    (select coalesce(sum(found), 0) from joined where expected = 0),
    0
""",
    "tickers": """
with truth as (select distinct market_ticker, ts, fingerprint from truth_tickers)
select
    (select count(*) from truth),
    (select count(*) from kstore.tickers),
    (select count(*) from truth as t where not exists (select from kstore.tickers as s
        where (s.market_ticker, s.ts, s.fingerprint) = (t.market_ticker, t.ts, t.fingerprint))),
    0,
    (select count(*) from kstore.tickers as s where not exists (select from truth as t
        where (s.market_ticker, s.ts, s.fingerprint) = (t.market_ticker, t.ts, t.fingerprint))),
    0
""",
    "markets": """
with truth as (
    select distinct on (market_ticker) market_ticker, status, updated_time
    from truth_markets order by market_ticker, index desc nulls last
)
select
    (select count(*) from truth),
    (select count(*) from kstore.markets),
    (select count(*) from truth as t where not exists
        (select from kstore.markets as m where m.market_ticker = t.market_ticker)),
    0,
    (select count(*) from kstore.markets as m where not exists
        (select from truth as t where t.market_ticker = m.market_ticker)),
    (select count(*) from truth as t inner join kstore.markets as m using (market_ticker)
        where m.status is distinct from t.status)
""",
}
TIME_SERIES = ("trades", "orderbook_deltas", "tickers")


@dataclass
class Truth:
    trades: list[tuple]
    deltas: list[tuple]
    tickers: list[tuple]
    markets: list[tuple]


def load_truth(path: Path) -> Truth:
    if not path.is_file():
        raise SettingsError(f"truth file {path} does not exist")
    truth = Truth([], [], [], [])
    with open(path) as lines:
        for number, line in enumerate(lines, 1):
            try:
                event = json.loads(line)
                READERS.get(event["table"], lambda t, e: None)(truth, event)
            except (ValueError, KeyError, TypeError) as exc:
                raise SettingsError(f"{path}:{number}: not a truth line ({exc})") from exc
    return truth


def _ms(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


READERS = {
    "trades": lambda truth, e: truth.trades.append((
        e["trade_id"], _ms(e["ts_ms"]), e["market_ticker"], Decimal(e["yes_price_dollars"]),
        Decimal(e["no_price_dollars"]), Decimal(e["count_fp"]))),
    "orderbook_deltas": lambda truth, e: truth.deltas.append((
        e["market_ticker"], _ms(e["ts_ms"]), e["side"],
        _no_leg(Decimal(e["price_dollars"]), e["side"], e.get("use_yes_price", False)),
        Decimal(e["delta_fp"]))),
    "tickers": lambda truth, e: truth.tickers.append((
        e["market_ticker"], _ms(e["ts_ms"]),
        fingerprint({k: v for k, v in e.items() if k not in META}))),
    "markets": lambda truth, e: truth.markets.append((
        e["market_ticker"], e.get("status"), e.get("updated_time"), e.get("index"))),
}


def _no_leg(price: Decimal, side: str, yes_scale: bool) -> Decimal:
    return 1 - price if yes_scale and side == "no" else price


def audit(settings: Settings, truth: Truth, target: str) -> dict[str, dict[str, int]]:
    """Per table: truth, stored, missing, duplicated, extra, mismatched."""
    result = {}
    for name, tables in _databases(settings, target):
        with psycopg.connect(name, autocommit=False) as conn:
            conn.execute(TRUTH_TABLES)
            _copy(conn, truth)
            for table in tables:
                row = conn.execute(QUERIES[table]).fetchone()
                result[table] = dict(zip(COUNTS, map(int, row)))
            conn.rollback()
    return result


def _databases(settings: Settings, target: str) -> list[tuple[str, tuple[str, ...]]]:
    if target == topology.PRODUCTION:
        return [(topology.dsn_for(settings, topology.PRODUCTION), (*TIME_SERIES, "markets"))]
    if target not in settings.gatherers:
        raise SettingsError(f"unknown audit target {target!r}: a gatherer id or production")
    return [(topology.dsn_for(settings, f"{target}_ts"), TIME_SERIES),
            (topology.dsn_for(settings, f"{target}_rel"), ("markets",))]


def _copy(conn: psycopg.Connection, truth: Truth) -> None:
    for table, rows in (("truth_trades", truth.trades), ("truth_deltas", truth.deltas),
                        ("truth_tickers", truth.tickers), ("truth_markets", truth.markets)):
        with conn.cursor().copy(f"copy {table} from stdin") as copy:
            for row in rows:
                copy.write_row(row)


def clean(result: dict[str, dict[str, int]]) -> bool:
    return all(not (r["missing"] or r["duplicated"] or r["extra"] or r["mismatched"])
               for r in result.values())


def render(result: dict[str, dict[str, int]]) -> str:
    lines = [f"{'table':<18}" + "".join(f"{c:>12}" for c in COUNTS)]
    for table, counts in result.items():
        lines.append(f"{table:<18}" + "".join(f"{counts[c]:>12}" for c in COUNTS))
    return "\n".join(lines)
