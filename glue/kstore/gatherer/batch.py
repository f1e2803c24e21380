"""How one batch of rows reaches one table, exactly, on one connection.

`write()` guarantees: every row the database accepts is inserted (`on conflict do nothing`
against the table's dedup key), every row it rejects becomes a `kstore.quarantine` row with the
database's reason, and both commit in one transaction, so a bad row never holds back a valid
neighbour. Errors that are not caused by a row (connection loss, timeouts, missing privileges)
propagate with nothing committed; the caller retries the whole batch, which `on conflict` makes
safe.

The fast path stages the batch with binary COPY into an unconstrained temp table and inserts it
with one `insert … select … on conflict do nothing`: the client side of binary COPY is psycopg's
C row formatter, and the same statement handles every column type, including the `numeric[]`
levels of orderbook_snapshots (`kstore bench writer` measures it against the alternatives).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timezone

import psycopg
from psycopg import sql

from kstore.gatherer.rows import COLUMN_TYPES, TABLE_COLUMNS

# A row the database (or psycopg, while encoding it) refuses: SQLSTATE classes 22 and 23, and
# Python values psycopg cannot encode for the column (a float for a numeric, a str for a time).
ROW_ERRORS = (psycopg.DataError, psycopg.IntegrityError, TypeError, ValueError, OverflowError)
YIELD_EVERY = 256  # rows encoded between returns to the event loop

QUARANTINE_INSERT = sql.SQL("insert into kstore.quarantine ({}) values ({})").format(
    sql.SQL(", ").join(map(sql.Identifier, TABLE_COLUMNS["quarantine"])),
    sql.SQL(", ").join(sql.Placeholder() * len(TABLE_COLUMNS["quarantine"])),
)


@dataclass(frozen=True)
class TableSql:
    """The statements that write one table through its per-connection staging table."""

    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    stage_ddl: sql.Composed
    copy: sql.Composed
    insert: sql.Composed
    clear: sql.Composed


@dataclass(frozen=True)
class Outcome:
    """What one committed batch did: rows newly inserted, rows quarantined (row, reason)."""

    inserted: int
    rejected: list[tuple[tuple, str]]


def table_sql(table: str) -> TableSql:
    """Statements for `table`; the staging table has the same columns without constraints, so
    every rejection happens in the insert, with the table's own error."""
    columns = TABLE_COLUMNS[table]
    types = tuple(COLUMN_TYPES[column] for column in columns)
    stage = sql.Identifier(f"kstore_stage_{table}")
    target = sql.Identifier("kstore", table)
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(kind))
        for column, kind in zip(columns, types)
    )
    return TableSql(
        table, columns, types,
        sql.SQL("create temp table if not exists {} ({}) on commit delete rows").format(
            stage, definitions),
        sql.SQL("copy {} ({}) from stdin (format binary)").format(stage, names),
        sql.SQL("insert into {} ({}) select {} from {} on conflict do nothing").format(
            target, names, names, stage),
        sql.SQL("delete from {}").format(stage),
    )


async def prepare(conn: psycopg.AsyncConnection, specs: list[TableSql]) -> None:
    """Creates this session's staging tables (pool `configure` callback; autocommit)."""
    for spec in specs:
        await conn.execute(spec.stage_ddl)


async def write(conn: psycopg.AsyncConnection, spec: TableSql, rows: list[tuple],
                gatherer_id: str) -> Outcome:
    """Commits `rows` into spec.table; rejected rows are quarantined in the same transaction.
    `conn` must be in autocommit mode and idle; `gatherer_id` names quarantine rows whose own
    row does not carry one."""
    try:
        async with conn.transaction():
            return Outcome(await _stage_and_insert(conn, spec, rows), [])
    except ROW_ERRORS as exc:
        first_error = exc
    async with conn.transaction():
        inserted, rejected = await _bisect(conn, spec, rows, first_error)
        quarantined = [quarantine_row(spec.table, row, reason, gatherer_id)
                       for row, reason in rejected]
        if quarantined:
            async with conn.cursor() as cur:
                await cur.executemany(QUARANTINE_INSERT, quarantined)
    return Outcome(inserted, rejected)


async def _stage_and_insert(conn: psycopg.AsyncConnection, spec: TableSql, rows: list[tuple],
                            clear: bool = False) -> int:
    """Inserts `rows` through the staging table; returns how many were new. With `clear`, the
    staging table is emptied afterwards (several attempts share one transaction)."""
    async with conn.cursor() as cur:
        async with cur.copy(spec.copy) as copy:
            copy.set_types(list(spec.types))
            for first in range(0, len(rows), YIELD_EVERY):
                for row in rows[first:first + YIELD_EVERY]:
                    await copy.write_row(row)
                await asyncio.sleep(0)
        await cur.execute(spec.insert)
        inserted = cur.rowcount
        if clear:
            await cur.execute(spec.clear)
    return inserted


async def _bisect(conn: psycopg.AsyncConnection, spec: TableSql, rows: list[tuple],
                  error: BaseException | None = None) -> tuple[int, list[tuple[tuple, str]]]:
    """Inserts every row of `rows` the database accepts, each attempt in a savepoint; returns
    the count inserted and the rejected rows with their reasons. `error`: `rows` as a whole
    already failed with it. Costs O(bad rows × log(len(rows))) attempts."""
    if error is None:
        try:
            async with conn.transaction():
                return await _stage_and_insert(conn, spec, rows, clear=True), []
        except ROW_ERRORS as exc:
            error = exc
    if len(rows) == 1:
        return 0, [(rows[0], reason_of(error))]
    middle = len(rows) // 2
    left_inserted, left_rejected = await _bisect(conn, spec, rows[:middle])
    right_inserted, right_rejected = await _bisect(conn, spec, rows[middle:])
    return left_inserted + right_inserted, left_rejected + right_rejected


def reason_of(error: BaseException) -> str:
    """The database's error as one line: SQLSTATE, message, and the violated constraint."""
    if isinstance(error, psycopg.Error) and error.sqlstate:
        detail = f" (constraint {error.diag.constraint_name})" if error.diag.constraint_name else ""
        return f"{error.sqlstate} {error.diag.message_primary}{detail}"
    return f"{type(error).__name__}: {error}".replace("\x00", "")


def quarantine_row(table: str, row, reason: str, gatherer_id: str) -> tuple:
    """A kstore.quarantine row (TABLE_COLUMNS order) for a row `table` cannot take. Built only
    from values that cannot fail the quarantine insert; raw is the row as JSON, by column."""
    columns = TABLE_COLUMNS[table]
    try:
        values = dict(zip(columns, row, strict=True))
    except (TypeError, ValueError):
        values = {"unshaped": repr(row)}
    received = values.get("received_at")
    raw = json.dumps({"table": table, "row": values}, default=str).encode()
    return (
        _clean_text(values.get("gatherer_id")) or gatherer_id or "unknown",
        _clean_text(values.get("connection_id")),
        received if isinstance(received, datetime) and received.tzinfo else _now(),
        f"{table}: {reason}".replace("\x00", ""),
        raw,
    )


def _clean_text(value) -> str | None:
    return value if isinstance(value, str) and value.isprintable() and value else None


def _now() -> datetime:
    return datetime.now(timezone.utc)
