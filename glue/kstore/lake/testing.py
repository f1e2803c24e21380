"""Real pieces for lake tests and the benchmark: a local S3 server and production rows.

`S3Server` is moto's threaded server: a real HTTP S3 endpoint on 127.0.0.1 (no mocks in the
code under test; boto3 and DuckDB's httpfs talk to it over TCP). `add_trades` and friends load
production directly with one set-based insert each (generate_series), the way a merged day
looks: a few hundred markets, prices with 4 decimals, sizes with 2.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import psycopg

from kstore.settings import Settings


class S3Server:
    """moto's S3 on 127.0.0.1 (a free port); `lake_settings()` points a lake at a bucket."""

    ACCESS_KEY, SECRET_KEY, REGION = "kstore-test", "kstore-test-secret", "us-east-1"

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""

    def start(self) -> S3Server:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def lake_settings(self, url: str) -> dict:
        """The `lake` settings of a lake at `url` (s3://bucket/prefix) on this server."""
        return {"url": url, "s3_endpoint": self.endpoint, "s3_region": self.REGION,
                "s3_access_key_id": self.ACCESS_KEY, "s3_secret_access_key": self.SECRET_KEY,
                "s3_url_style": "path", "s3_use_ssl": False}

    def create_bucket(self, settings: Settings) -> None:
        from kstore.lake.destination import open_lake

        lake = open_lake(settings)
        lake.client.create_bucket(Bucket=lake.bucket)


def ensure_days(conn: psycopg.Connection, table: str, first: date, days: int) -> None:
    """Day partitions for [first, first + days) on the plain path (TimescaleDB makes chunks)."""
    if conn.execute("select ops.storage_path()").fetchone()[0] != "plain":
        return
    conn.execute("select ops.partition_day(%s::regclass, d::date) from generate_series("
                 "%s::date, %s::date, interval '1 day') as d",
                 [f"kstore.{table}", first, first + timedelta(days=days - 1)])


def days_touched(start: datetime, span: timedelta) -> int:
    """How many UTC days [start, start + span) touches."""
    last = start + span - timedelta(microseconds=1)
    return (last.date() - start.date()).days + 1


def add_trades(conn: psycopg.Connection, start: datetime, span: timedelta, rows: int,
               markets: int = 300, gatherer: str = "g1") -> None:
    """`rows` trades spread at random over [start, start + span) and `markets` markets (a few
    busy, most quiet), exact prices (4 decimals) and sizes (2 decimals)."""
    ensure_days(conn, "trades", start.date(), days_touched(start, span))
    conn.execute(
        """
        insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count,
            taker_outcome_side, taker_book_side, sending_ts, received_at, gatherer_id)
        select gen_random_uuid(), t, format('KXM%%s-25JAN01-T%%s', m %% 40, m), p, 1 - p,
            round((1 + random() * random() * 500)::numeric, 2),
            case when random() < 0.5 then 'yes' else 'no' end,
            case when random() < 0.5 then 'bid' else 'ask' end,
            t + interval '3 ms', t + (20 + random() * 60) * interval '1 ms', %(gatherer)s
        from (
            select
                date_trunc('milliseconds', %(start)s + random() * %(span)s) as t,
                (random() * random() * %(markets)s)::int as m,
                round((0.01 + random() * 0.98)::numeric, 4) as p
            from generate_series(1, %(rows)s)
        ) as g
        """, {"start": start, "span": span, "rows": rows, "markets": markets,
              "gatherer": gatherer})


def add_deltas(conn: psycopg.Connection, start: datetime, span: timedelta, rows: int,
               markets: int = 300) -> None:
    """About `rows` order-book deltas at random times in [start, start + span) (exchange
    milliseconds), over `markets` markets (a few busy, most quiet): prices in cents, sizes in
    whole contracts (2 decimals), the connection metadata of the gatherer that won the merge.
    Rare key collisions are skipped (`on conflict`), so the count can fall a little short."""
    ensure_days(conn, "orderbook_deltas", start.date(), days_touched(start, span))
    conn.execute(
        """
        insert into kstore.orderbook_deltas (market_ticker, ts, side, price, delta,
            use_yes_price, sid, seq, connection_id, sending_ts, received_at, gatherer_id)
        select format('KXM%%s-25JAN01-T%%s', m %% 40, m), t,
            case when random() < 0.5 then 'yes' else 'no' end, p,
            (case when random() < 0.5 then -1 else 1 end) * (1 + floor(random() * random() * 500)),
            false, 1 + m %% 4, n, 'c' || m %% 4, t + interval '2 ms',
            t + (20 + random() * 60) * interval '1 ms', 'g' || 1 + m %% 3
        from (
            select
                n,
                date_trunc('milliseconds', %(start)s + random() * %(span)s) as t,
                (random() * random() * %(markets)s)::int as m,
                round((1 + random() * 98)::numeric) / 100 as p
            from generate_series(1, %(rows)s) as n
        ) as g
        on conflict do nothing
        """, {"start": start, "span": span, "rows": rows, "markets": markets})


def add_tickers(conn: psycopg.Connection, start: datetime, span: timedelta, rows: int,
                markets: int = 20) -> None:
    ensure_days(conn, "tickers", start.date(), max(1, span.days + 1))
    conn.execute(
        """
        insert into kstore.tickers (market_ticker, ts, fingerprint, price, yes_bid, yes_ask,
            volume, gatherer_id)
        select format('KXM-T%%s', i %% %(markets)s), %(start)s + (i - 1) * %(span)s / %(rows)s,
            i, 0.5, 0.49, 0.51, i, 'g1'
        from generate_series(1, %(rows)s) as i
        """, {"start": start, "span": span, "rows": rows, "markets": markets})


def add_reference(conn: psycopg.Connection, markets: int = 5,
                  known_since: datetime | None = None) -> None:
    """One series, one event, and the first `markets` markets add_trades trades in;
    `known_since` dates their history versions back (an archive day's reference data: a day's
    snapshot holds only what production knew by its end, decision 0046)."""
    conn.execute("insert into kstore.series (series_ticker, title, raw) values"
                 " ('KXM', 'A series', '{}')")
    conn.execute("insert into kstore.events (event_ticker, series_ticker, title, raw) values"
                 " ('KXM-25JAN01', 'KXM', 'An event', '{}')")
    conn.execute(
        "insert into kstore.markets (market_ticker, event_ticker, series_ticker, status,"
        " yes_bid, volume, raw) select format('KXM%%s-25JAN01-T%%s', i %% 40, i), 'KXM-25JAN01',"
        " 'KXM', 'active', 0.42, 100.5, '{}' from generate_series(0, %s - 1) as i", [markets])
    if known_since is not None:
        for table in ("series_history", "events_history", "markets_history"):
            conn.execute(f"update kstore.{table} set recorded_at = %s", [known_since])
