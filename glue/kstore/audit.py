"""`kstore audit --truth FILE --target g1|…|production`: a database against what the exchange sent.

The simulator's truth file lists every event it emitted. The audit loads it into temporary
tables and compares set-wise, per table: rows missing from the database, rows duplicated (more
rows than events for a key), extra rows (keys the exchange never sent) and mismatched values.
Multiplicity matters for deltas: two identical events are two rows. Exit status 1 if anything
is off. The audit covers the run the truth file describes and nothing else (decisions 0055,
0088): its span is the first to the last exchange time the file holds; stored time-series rows
whose exchange time lies in that span, and markets the file names or whose exchange version time
lies in it. Rows outside the span are other runs on the same home (earlier or later), neither
missing nor extra; inside it every row is compared, whenever it arrived.

Which tables there are comes from each database's table catalog (decision 0016): every table
of exchange data (time series and reference) is audited by its rule in RULES, keyed by table
name; a table without a rule is reported with its stored rows and nothing compared (None), never
silently left out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg import sql

from kstore import catalog, topology
from kstore.gatherer.stream import fingerprint
from kstore.settings import Settings, SettingsError

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
META = ("table", "index")
COUNTS = ("truth", "stored", "missing", "duplicated", "extra", "mismatched")
EXCHANGE_DATA = ("timeseries", "reference")  # the catalog families the truth file describes
FOREVER = datetime(9999, 12, 31, tzinfo=timezone.utc)
# The run's span in a rule's SQL: the temporary table truth_span holds its two ends.
IN_RUN = "between (select since from truth_span) and (select until from truth_span)"


@dataclass(frozen=True)
class Rule:
    """How one table is compared with the simulator's record: the columns of its temporary
    truth table (truth_<table>), a truth line as a row of it, and the query returning
    (truth, stored, missing, duplicated, extra, mismatched)."""

    columns: str
    read: Callable[[dict], tuple]
    query: str


def _ms(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


def _no_leg(price: Decimal, side: str, yes_scale: bool) -> Decimal:
    return 1 - price if yes_scale and side == "no" else price


RULES = {
    "trades": Rule(
        "trade_id uuid, ts timestamptz, market_ticker text, yes_price numeric, "
        "no_price numeric, count numeric",
        lambda e: (e["trade_id"], _ms(e["ts_ms"]), e["market_ticker"],
                   Decimal(e["yes_price_dollars"]), Decimal(e["no_price_dollars"]),
                   Decimal(e["count_fp"])),
        f"""
with stored as (
    select trade_id, count(*) as n, min(yes_price) as yes_price, min(no_price) as no_price,
        min(count) as count, min(ts) as ts
    from kstore.trades where ts {IN_RUN} group by trade_id
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
"""),
    "orderbook_deltas": Rule(
        "market_ticker text, ts timestamptz, side text, price numeric, delta numeric",
        lambda e: (e["market_ticker"], _ms(e["ts_ms"]), e["side"],
                   _no_leg(Decimal(e["price_dollars"]), e["side"],
                           e.get("use_yes_price", False)),
                   Decimal(e["delta_fp"])),
        f"""
with truth as (
    select market_ticker, ts, side, price, delta, count(*) as n
    from truth_orderbook_deltas group by 1, 2, 3, 4, 5
),
stored as (
    select market_ticker, ts, side,
        case when use_yes_price and side = 'no' then 1 - price else price end as price,
        delta, count(*) as n
    from kstore.orderbook_deltas where ts {IN_RUN} group by 1, 2, 3, 4, 5
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
"""),
    "tickers": Rule(
        "market_ticker text, ts timestamptz, fingerprint bigint",
        lambda e: (e["market_ticker"], _ms(e["ts_ms"]),
                   fingerprint({k: v for k, v in e.items() if k not in META})),
        f"""
with truth as (select distinct market_ticker, ts, fingerprint from truth_tickers),
stored as (
    select market_ticker, ts, fingerprint from kstore.tickers where ts {IN_RUN}
)
select
    (select count(*) from truth),
    (select count(*) from stored),
    (select count(*) from truth as t where not exists (select from stored as s
        where (s.market_ticker, s.ts, s.fingerprint) = (t.market_ticker, t.ts, t.fingerprint))),
    0,
    (select count(*) from stored as s where not exists (select from truth as t
        where (s.market_ticker, s.ts, s.fingerprint) = (t.market_ticker, t.ts, t.fingerprint))),
    0
"""),
    "markets": Rule(
        "market_ticker text, status text, updated_time timestamptz, index bigint",
        lambda e: (e["market_ticker"], e.get("status"), e.get("updated_time"), e.get("index")),
        f"""
with truth as (
    select distinct on (market_ticker) market_ticker, status, updated_time
    from truth_markets order by market_ticker, index desc nulls last
),
stored as (
    select m.market_ticker, m.status from kstore.markets as m
    where m.market_ticker in (select t.market_ticker from truth as t)
        or m.updated_time is null or m.updated_time {IN_RUN}
)
select
    (select count(*) from truth),
    (select count(*) from stored),
    (select count(*) from truth as t where not exists
        (select from stored as s where s.market_ticker = t.market_ticker)),
    0,
    (select count(*) from stored as s where not exists
        (select from truth as t where t.market_ticker = s.market_ticker)),
    (select count(*) from truth as t inner join stored as s using (market_ticker)
        where s.status is distinct from t.status)
"""),
}

# The truth file's rows, by table (only tables with a rule are kept), and under SPAN the run's
# first and last exchange times: [(since, until)] (EPOCH, FOREVER when the file has none).
Truth = dict[str, list[tuple]]
SPAN = "_span"


def load_truth(path: Path) -> Truth:
    if not path.is_file():
        raise SettingsError(f"truth file {path} does not exist")
    truth: Truth = {table: [] for table in RULES}
    span = None  # (first, last) exchange time in ms
    with open(path) as lines:
        for number, line in enumerate(lines, 1):
            try:
                event = json.loads(line)
                if event.get("index") is not None and "ts_ms" in event:
                    at = int(event["ts_ms"])
                    span = (min(span[0], at), max(span[1], at)) if span else (at, at)
                rule = RULES.get(event["table"])
                if rule is not None:
                    truth[event["table"]].append(rule.read(event))
            except (ValueError, KeyError, TypeError) as exc:
                raise SettingsError(f"{path}:{number}: not a truth line ({exc})") from exc
    truth[SPAN] = [(_ms(span[0]), _ms(span[1])) if span else (EPOCH, FOREVER)]
    return truth


def audit(settings: Settings, truth: Truth, target: str) -> dict[str, dict[str, int | None]]:
    """Per table of exchange data in the target: truth, stored, missing, duplicated, extra,
    mismatched, over the run's span; for a table without a rule, only `stored` (the whole
    table: nothing is compared, so nothing is out of scope; the rest None)."""
    result = {}
    for dsn in _databases(settings, target):
        with psycopg.connect(dsn, autocommit=False) as conn:
            conn.execute("create temp table truth_span (since timestamptz, until timestamptz)")
            conn.execute("insert into truth_span values (%s, %s)",
                         truth.get(SPAN, [(EPOCH, FOREVER)])[0])
            tables = [t.name for t in catalog.load(conn)
                      if t.here and t.family in EXCHANGE_DATA]
            for table in tables:
                result[table] = _compare(conn, table, truth) if table in RULES else \
                    _unaudited(conn, table)
            conn.rollback()
    return result


def _databases(settings: Settings, target: str) -> list[str]:
    if target == topology.PRODUCTION:
        return [topology.dsn_for(settings, topology.PRODUCTION)]
    if target not in settings.gatherers:
        raise SettingsError(f"unknown audit target {target!r}: a gatherer id or production")
    return [topology.dsn_for(settings, f"{target}_{kind}") for kind in ("ts", "rel")]


def _compare(conn: psycopg.Connection, table: str, truth: Truth) -> dict[str, int]:
    """Loads the table's truth into truth_<table> (dropped at rollback) and runs its rule."""
    rule, name = RULES[table], sql.Identifier(f"truth_{table}")
    conn.execute(sql.SQL("create temp table {} ({})").format(name, sql.SQL(rule.columns)))
    with conn.cursor().copy(sql.SQL("copy {} from stdin").format(name)) as copy:
        for row in truth.get(table, ()):
            copy.write_row(row)
    return dict(zip(COUNTS, map(int, conn.execute(rule.query).fetchone())))


def _unaudited(conn: psycopg.Connection, table: str) -> dict[str, int | None]:
    stored = conn.execute(sql.SQL("select count(*) from {}").format(
        sql.Identifier("kstore", table))).fetchone()[0]
    return dict.fromkeys(COUNTS) | {"stored": stored}


def compared(result: dict[str, dict[str, int | None]]) -> dict[str, dict[str, int]]:
    """The tables the audit compared with the truth (those with a rule)."""
    return {table: counts for table, counts in result.items() if counts["truth"] is not None}


def clean(result: dict[str, dict[str, int | None]]) -> bool:
    """Nothing missing, duplicated, extra or mismatched in any compared table."""
    return all(not (r["missing"] or r["duplicated"] or r["extra"] or r["mismatched"])
               for r in compared(result).values())


def render(result: dict[str, dict[str, int | None]]) -> str:
    lines = [f"{'table':<20}" + "".join(f"{c:>12}" for c in COUNTS)]
    for table, counts in result.items():
        cells = "".join(f"{'-' if counts[c] is None else counts[c]:>12}" for c in COUNTS)
        note = "  (no audit rule: not compared)" if table not in compared(result) else ""
        lines.append(f"{table:<20}{cells}{note}")
    return "\n".join(lines)
