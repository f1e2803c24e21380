"""The registry's tables in the gatherer's `rel` database: which REST field fills which column,
their keys, and the statements that store one object or one page of objects (newest wins)."""

from __future__ import annotations

import json
from datetime import datetime

from psycopg import sql
from psycopg.types.json import Jsonb

COLUMNS = {
    "series": {
        "series_ticker": "ticker", "title": "title", "category": "category",
        "frequency": "frequency", "tags": "tags", "fee_type": "fee_type",
        "fee_multiplier": "fee_multiplier", "contract_url": "contract_url",
    },
    "events": {
        "event_ticker": "event_ticker", "series_ticker": "series_ticker", "title": "title",
        "sub_title": "sub_title", "category": "category",
        "collateral_return_type": "collateral_return_type",
        "mutually_exclusive": "mutually_exclusive", "strike_date": "strike_date",
        "strike_period": "strike_period",
    },
    "markets": {
        "market_ticker": "ticker", "event_ticker": "event_ticker",
        "series_ticker": "series_ticker", "market_type": "market_type", "title": "title",
        "yes_sub_title": "yes_sub_title", "no_sub_title": "no_sub_title", "status": "status",
        "result": "result", "created_time": "created_time", "open_time": "open_time",
        "close_time": "close_time", "expected_expiration_time": "expected_expiration_time",
        "settlement_ts": "settlement_ts", "settlement_value": "settlement_value_dollars",
        "strike_type": "strike_type", "floor_strike": "floor_strike",
        "cap_strike": "cap_strike", "price_level_structure": "price_level_structure",
        "fractional_trading_enabled": "fractional_trading_enabled",
        "yes_bid": "yes_bid_dollars", "yes_ask": "yes_ask_dollars",
        "last_price": "last_price_dollars", "volume": "volume_fp",
        "open_interest": "open_interest_fp", "updated_time": "updated_time",
    },
}
KEYS = {"series": "series_ticker", "events": "event_ticker", "markets": "market_ticker"}


def upsert_sql(table: str) -> str:
    columns = [*COLUMNS[table], "observed_at", "raw"]
    if table != "series":  # a REST answer is a REST version (decision 0024)
        columns.append("version_source")
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns[1:])
    return (f"insert into kstore.{table} ({', '.join(columns)}) "
            f"values ({', '.join('%s' for _ in columns)}) "
            f"on conflict ({KEYS[table]}) do update set {updates}"
            + (" returning status" if table == "markets" else ""))  # the row's, once decided


def columns_of(table: str) -> list[str]:
    return [*COLUMNS[table], "observed_at", "raw"] + ([] if table == "series" else
                                                      ["version_source"])


def page_sql(table: str, stage: sql.Composable) -> sql.Composed:
    """One statement per page: the staged objects (the newest of each key) upserted."""
    names = columns_of(table)
    listed = sql.SQL(", ").join(map(sql.Identifier, names))
    newest = sql.SQL(", updated_time desc nulls last") if "updated_time" in names else sql.SQL("")
    return sql.SQL(
        "insert into kstore.{table} ({cols}) select distinct on ({key}) {cols} from {stage} "
        "order by {key}{newest} on conflict ({key}) do update set {updates}"
        " returning {key}, {status}").format(
        table=sql.Identifier(table), cols=listed, key=sql.Identifier(KEYS[table]), stage=stage,
        newest=newest, updates=sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in names[1:]),
        status=sql.Identifier("status") if table == "markets" else sql.SQL("null"))


def row(table: str, obj: dict, observed_at: datetime, known: dict | None = None) -> tuple:
    """Column values from the object as sent; `known` fills fields it lacks (raw stays as sent)."""
    values = [obj.get(source, (known or {}).get(source)) for source in COLUMNS[table].values()]
    values = [json.dumps(v) if isinstance(v, dict) else v for v in values]
    return (*values, observed_at, Jsonb(obj), *(() if table == "series" else ("rest",)))
