"""How one batch of rows reaches one table, exactly, on one connection.

`write()` guarantees: every row the database accepts is inserted (`on conflict do nothing`
against the table's dedup key), every row it rejects becomes a `kstore.quarantine` row with the
database's reason, and both commit in one transaction, so a bad row never holds back a valid
neighbour. Errors that are not caused by a row (connection loss, timeouts, missing privileges)
propagate with nothing committed; the caller retries the whole batch, which `on conflict` makes
safe.

The batch is staged and inserted by kstore.copyload (binary COPY into a per-session temp table,
then one `insert … select … on conflict do nothing`): the client side of binary COPY is
psycopg's C row formatter, and the same statement handles every column type, including the
`numeric[]` levels of orderbook_snapshots (`kstore bench writer` measures it against the
alternatives). Column types are the database's own, read once per writer (`prepare`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import psycopg
from psycopg import sql

from kstore import copyload
from kstore.copyload import Load
from kstore.gatherer.rows import TABLE_COLUMNS, row_of

# A row the database (or psycopg, while encoding it) refuses: SQLSTATE classes 22 and 23, and
# Python values psycopg cannot encode for the column (a float for a numeric, a str for a time).
ROW_ERRORS = (psycopg.DataError, psycopg.IntegrityError, TypeError, ValueError, OverflowError)

QUARANTINE_INSERT = sql.SQL("insert into kstore.quarantine ({}) values ({})").format(
    sql.SQL(", ").join(map(sql.Identifier, TABLE_COLUMNS["quarantine"])),
    sql.SQL(", ").join(sql.Placeholder() * len(TABLE_COLUMNS["quarantine"])),
)


@dataclass(frozen=True)
class Outcome:
    """What one committed batch did: rows newly inserted, rows quarantined (row, reason)."""

    inserted: int
    rejected: list[tuple[tuple, str]]


async def prepare(conn: psycopg.AsyncConnection, tables, known: dict[str, Load]) -> None:
    """Pool `configure` callback (autocommit): learns how each of `tables` is loaded (its
    TABLE_COLUMNS in the types the database declares; once per writer, kept in `known`) and
    creates this session's staging tables. Raises copyload.MissingColumns on a schema that
    lacks one of them."""
    for table in tables:
        if table not in known:
            found = await copyload.columns_async(conn, table)
            known[table] = copyload.load_sql(table, copyload.typed(table, TABLE_COLUMNS[table],
                                                                   found))
        await conn.execute(known[table].stage)


async def write(conn: psycopg.AsyncConnection, load: Load, rows: list[tuple],
                gatherer_id: str) -> Outcome:
    """Commits `rows` into load.table; rejected rows are quarantined in the same transaction.
    `conn` must be in autocommit mode and idle; `gatherer_id` names quarantine rows whose own
    row does not carry one."""
    try:
        async with conn.transaction():
            return Outcome(await _stage_and_insert(conn, load, rows), [])
    except ROW_ERRORS as exc:
        first_error = exc
    async with conn.transaction():
        inserted, rejected = await _bisect(conn, load, rows, first_error)
        quarantined = [quarantine_row(load.table, row, reason, gatherer_id)
                       for row, reason in rejected]
        if quarantined:
            async with conn.cursor() as cur:
                await cur.executemany(QUARANTINE_INSERT, quarantined)
    return Outcome(inserted, rejected)


async def _stage_and_insert(conn: psycopg.AsyncConnection, load: Load, rows: list[tuple],
                            clear: bool = False) -> int:
    async with conn.cursor() as cur:
        return await copyload.load_rows(cur, load, rows, clear)


async def _bisect(conn: psycopg.AsyncConnection, load: Load, rows: list[tuple],
                  error: BaseException | None = None) -> tuple[int, list[tuple[tuple, str]]]:
    """Inserts every row of `rows` the database accepts, each attempt in a savepoint; returns
    the count inserted and the rejected rows with their reasons. `error`: `rows` as a whole
    already failed with it. Costs O(bad rows × log(len(rows))) attempts."""
    if error is None:
        try:
            async with conn.transaction():
                return await _stage_and_insert(conn, load, rows, clear=True), []
        except ROW_ERRORS as exc:
            error = exc
    if len(rows) == 1:
        return 0, [(rows[0], reason_of(error))]
    middle = len(rows) // 2
    left_inserted, left_rejected = await _bisect(conn, load, rows[:middle])
    right_inserted, right_rejected = await _bisect(conn, load, rows[middle:])
    return left_inserted + right_inserted, left_rejected + right_rejected


def reason_of(error: BaseException) -> str:
    """The database's error as one line: SQLSTATE, message, and the violated constraint."""
    if isinstance(error, psycopg.Error) and error.sqlstate:
        detail = f" (constraint {error.diag.constraint_name})" if error.diag.constraint_name else ""
        return f"{error.sqlstate} {error.diag.message_primary}{detail}"
    return f"{type(error).__name__}: {error}".replace("\x00", "")


def quarantine_row(table: str, row, reason: str, gatherer_id: str) -> tuple:
    """A kstore.quarantine row (TABLE_COLUMNS order) for a row `table` cannot take. Built only
    from values that cannot fail the quarantine insert; raw is the exact bytes of the frame the
    row came from (rows.Row), or the row as JSON, by column, for a row no frame made."""
    columns = TABLE_COLUMNS[table]
    try:
        values = dict(zip(columns, row, strict=True))
    except (TypeError, ValueError):
        values = {"unshaped": repr(row)}
    received = values.get("received_at")
    return row_of("quarantine", {
        "gatherer_id": _clean_text(values.get("gatherer_id")) or gatherer_id or "unknown",
        "connection_id": _clean_text(values.get("connection_id")),
        "received_at": received if isinstance(received, datetime) and received.tzinfo
        else _now(),
        "reason": f"{table}: {reason}".replace("\x00", ""),
        "raw": raw if isinstance(raw := getattr(row, "raw", None), bytes)
        else json.dumps({"table": table, "row": values}, default=str).encode(),
    })


def _clean_text(value) -> str | None:
    return value if isinstance(value, str) and value.isprintable() and value else None


def _now() -> datetime:
    return datetime.now(timezone.utc)
