"""Lifecycle frames as versions of markets and events (decision 0024).

A `market_lifecycle_v2` or `event_lifecycle` frame is a version of its market or event, taken
from the frame itself before the REST re-fetch: its version time (`updated_time`) is the frame's
receive time and `version_source` is 'ws'. The statement sets only the columns the frame
carries, and merges the same values, under their REST names, into `raw`; the rest of the row is
whatever version was there. ops.keep_newest decides: a frame older than the current version
changes nothing, and an older REST answer only completes what the frame left empty.

The rules are data: FIELDS (column ← frame field, reader, REST name in raw) per message type,
METADATA for `additional_metadata`, STATUS for the REST status an event type means. A frame
that cannot be read raises parse.Invalid with the reason; nothing is written for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple

from psycopg.types.json import Jsonb

from kstore.gatherer.rules import EPOCH, Invalid, Reader, one_of, price, symbol, text


def seconds(msg: dict, key: str) -> datetime | None:
    """A Unix time in seconds (the lifecycle channel's `*_ts` fields)."""
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 4_102_444_800:
        raise Invalid(f"{key} is not a Unix time in seconds: {value!r}")
    return EPOCH + timedelta(seconds=value)


def boolean(msg: dict, key: str) -> bool | None:
    value = msg.get(key)
    if value is not None and not isinstance(value, bool):
        raise Invalid(f"{key} is not a boolean: {value!r}")
    return value


def strike(msg: dict, key: str) -> Decimal | None:
    """A strike as sent: a JSON number or a decimal string, kept exactly."""
    value = msg.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Invalid(f"{key} is not a number: {value!r}")
    try:
        number = Decimal(str(value))
    except ArithmeticError as exc:
        raise Invalid(f"{key} is not a number: {value!r}") from exc
    if not number.is_finite():
        raise Invalid(f"{key} is not a finite number: {value!r}")
    return number


def date(msg: dict, key: str) -> datetime | None:
    """`strike_date`: Unix seconds, or an ISO 8601 time."""
    value = msg.get(key)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise Invalid(f"{key} is not a time: {value!r}") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return seconds(msg, key)


def optional(read: Reader) -> Reader:
    return lambda msg, key: read(msg, key, True)


class Rule(NamedTuple):
    """column ← frame field, read by `read` (None when absent); `rest`: its name in raw."""

    column: str
    field: str
    read: Reader
    rest: str


MARKET = (
    Rule("open_time", "open_ts", seconds, "open_time"),
    Rule("close_time", "close_ts", seconds, "close_time"),
    Rule("result", "result", optional(one_of("yes", "no", "scalar", "")), "result"),
    Rule("determination_ts", "determination_ts", seconds, "determination_ts"),
    Rule("settlement_value", "settlement_value", optional(price), "settlement_value_dollars"),
    Rule("settlement_ts", "settled_ts", seconds, "settlement_ts"),
    Rule("is_deactivated", "is_deactivated", boolean, "is_deactivated"),
    Rule("fractional_trading_enabled", "fractional_trading_enabled", boolean,
         "fractional_trading_enabled"),
    Rule("price_level_structure", "price_level_structure", optional(text),
         "price_level_structure"),
)
METADATA = (  # market_lifecycle_v2's additional_metadata (created, metadata_updated)
    Rule("event_ticker", "event_ticker", optional(symbol), "event_ticker"),
    Rule("title", "title", optional(text), "title"),
    Rule("yes_sub_title", "yes_sub_title", optional(text), "yes_sub_title"),
    Rule("no_sub_title", "no_sub_title", optional(text), "no_sub_title"),
    Rule("expected_expiration_time", "expected_expiration_ts", seconds,
         "expected_expiration_time"),
    Rule("strike_type", "strike_type", optional(text), "strike_type"),
    Rule("floor_strike", "floor_strike", strike, "floor_strike"),
    Rule("cap_strike", "cap_strike", strike, "cap_strike"),
    Rule("", "rules_primary", optional(text), "rules_primary"),  # raw only
    Rule("", "rules_secondary", optional(text), "rules_secondary"),
)
EVENT = (
    Rule("series_ticker", "series_ticker", optional(symbol), "series_ticker"),
    Rule("title", "title", optional(text), "title"),
    Rule("sub_title", "subtitle", optional(text), "sub_title"),
    Rule("collateral_return_type", "collateral_return_type",
         optional(one_of("MECNET", "DIRECNET", "")), "collateral_return_type"),
    Rule("strike_date", "strike_date", date, "strike_date"),
    Rule("strike_period", "strike_period", optional(text), "strike_period"),
)

# market_lifecycle_v2 event_type → the REST response status it means; `deactivated` depends on
# its pause flag. Types not listed (close date, grid, fractional, metadata) keep the status.
STATUS = {"created": "initialized", "activated": "active", "determined": "determined",
          "settled": "finalized"}
PAUSED = {True: "inactive", False: "active"}


class Table(NamedTuple):
    """Per message type: its table, key column ← frame field, the rules, the column an insert
    needs besides the key (without it a frame can only update a row that exists)."""

    table: str
    key: str
    field: str
    rules: tuple[Rule, ...]
    required: str


TABLES = {
    "market_lifecycle_v2": Table("markets", "market_ticker", "market_ticker", MARKET,
                                 "event_ticker"),
    "event_lifecycle": Table("events", "event_ticker", "event_ticker", EVENT, "series_ticker"),
}


class Version(NamedTuple):
    table: str
    key: str
    columns: dict[str, Any]  # every column the frame sets, key first
    raw: dict[str, Any]  # the same values under their REST names (JSON-ready)


def read(kind: str, msg: dict) -> Version:
    """The version a lifecycle frame's `msg` states; Invalid names the first bad field."""
    spec = TABLES[kind]
    key = symbol(msg, spec.field)
    columns, raw = {spec.key: key}, {_rest_key(spec): key}
    _apply(spec.rules, msg, columns, raw)
    if kind == "market_lifecycle_v2":
        metadata = msg.get("additional_metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise Invalid("additional_metadata is not an object")
        _apply(METADATA, metadata or {}, columns, raw)
        status = _status(msg.get("event_type"), columns.get("is_deactivated"))
        if status is not None:
            columns["status"] = raw["status"] = status
    return Version(spec.table, spec.key, columns, raw)


def _rest_key(spec: Table) -> str:
    return "ticker" if spec.table == "markets" else spec.key


def _apply(rules: tuple[Rule, ...], msg: dict, columns: dict, raw: dict) -> None:
    for column, key, reader, rest in rules:
        value = reader(msg, key)
        if value is None:
            continue
        if column:
            columns[column] = value
        raw[rest] = _json(value)


def _status(event_type: Any, paused: bool | None) -> str | None:
    if event_type == "deactivated":
        return PAUSED.get(paused)
    return STATUS.get(event_type)


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return str(value)
    return value


def statement(version: Version, received_at: datetime, observed_at: datetime,
              known: dict[str, Any]) -> tuple[str, list]:
    """The SQL and parameters that apply `version` as of its receive time: an upsert when the
    row can be inserted (its required column is in the frame or `known`), else an update of
    the row that exists (none: nothing happens, the REST re-fetch brings it)."""
    spec = next(t for t in TABLES.values() if t.table == version.table)
    columns = dict(version.columns)
    for name, value in known.items():  # what the registry knows and the frame does not say
        if columns.get(name) is None and value is not None:
            columns[name] = value
    names = [*columns, "updated_time", "observed_at"]
    values = [*columns.values(), received_at, observed_at, Jsonb(version.raw)]
    sets = ", ".join(f"{name} = %s" for name in names[1:])
    if columns.get(spec.required) is None:
        sql = (f"update kstore.{spec.table} as t set {sets}, raw = t.raw || %s, "
               f"version_source = 'ws' where t.{spec.key} = %s")
        return sql, [*values[1:], values[0]]
    sql = (f"insert into kstore.{spec.table} as t ({', '.join(names)}, raw, version_source) "
           f"values ({', '.join('%s' for _ in values)}, 'ws') on conflict ({spec.key}) do update "
           f"set {', '.join(f'{n} = excluded.{n}' for n in names[1:])}, "
           f"raw = t.raw || excluded.raw, version_source = 'ws'")
    return sql, values
