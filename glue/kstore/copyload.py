"""Stage → binary COPY → `insert … on conflict do nothing`: rows into a kstore table in bulk.

Used by the gatherer's writers (rows from the feed) and by backfill (byte chunks from another
database's `copy … to stdout (format binary)`). Guarantees:
- a table's columns and types are read from the database's `pg_attribute`, never retyped here;
- the staging table is a per-session temp table with the target's column names in their base
  types (no typmod, no constraints, no defaults), so COPY accepts anything of the right type and
  every rejection happens in the insert, with the target table's own error and constraint name;
- the insert skips every row whose dedup key is already present (`on conflict do nothing`,
  against any of the table's unique keys), so loading the same rows twice is a no-op;
- the staging table is emptied at every commit (`on commit delete rows`); `Load.clear` empties
  it between several loads in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

SCHEMA = "kstore"
YIELD_EVERY = 256  # rows encoded between returns to the event loop
COLUMNS_SQL = """
select a.attname, format_type(a.atttypid, null)
from pg_attribute as a
where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped
    and a.attgenerated = ''
order by a.attnum
"""


class MissingColumns(RuntimeError):
    """The database's table lacks a table or columns the caller writes: migrate it first."""


@dataclass(frozen=True)
class Load:
    """The statements that load rows of one table through its per-session staging table."""

    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    stage: sql.Composed
    copy: sql.Composed
    insert: sql.Composed
    clear: sql.Composed


def load_sql(table: str, columns: Sequence[tuple[str, str]], key: Sequence[str] = ()) -> Load:
    """Statements for (column, type) pairs of kstore.`table`; `types` are the staging table's,
    the ones a binary COPY into it must be encoded in. `key` names the conflict target (the
    table's primary key); without it any unique violation skips the row."""
    names = tuple(column for column, _ in columns)
    types = tuple(kind for _, kind in columns)
    stage = sql.Identifier(f"kstore_stage_{table}")
    listed = sql.SQL(", ").join(map(sql.Identifier, names))
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(kind))
        for column, kind in columns)
    return Load(
        table, names, types,
        sql.SQL("create temp table if not exists {} ({}) on commit delete rows").format(
            stage, definitions),
        sql.SQL("copy {} ({}) from stdin (format binary)").format(stage, listed),
        sql.SQL("insert into {} ({}) select {} from {} on conflict {}do nothing").format(
            sql.Identifier(SCHEMA, table), listed, listed, stage,
            sql.SQL("({}) ").format(sql.SQL(", ").join(map(sql.Identifier, key))) if key
            else sql.SQL("")),
        sql.SQL("delete from {}").format(stage),
    )


def columns(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    """kstore.`table`'s stored columns in table order, as (name, base type); [] if no table."""
    return conn.execute(COLUMNS_SQL, [f"{SCHEMA}.{table}"]).fetchall()


async def columns_async(conn: psycopg.AsyncConnection, table: str) -> list[tuple[str, str]]:
    """`columns()` on an async connection."""
    cur = await conn.execute(COLUMNS_SQL, [f"{SCHEMA}.{table}"])
    return await cur.fetchall()


def typed(table: str, wanted: Sequence[str], found: Sequence[tuple[str, str]]
          ) -> list[tuple[str, str]]:
    """`wanted` columns with the types the database `found`; raises MissingColumns (one line)
    when the table or one of the columns is not there."""
    types = dict(found)
    missing = [column for column in wanted if column not in types]
    if not found or missing:
        what = f"columns {', '.join(missing)}" if found else "the table"
        raise MissingColumns(f"{SCHEMA}.{table}: the database lacks {what} (migrate it first)")
    return [(column, types[column]) for column in wanted]


async def load_rows(cur: psycopg.AsyncCursor, load: Load, rows: list[tuple],
                    clear: bool = False) -> int:
    """Stages `rows` (tuples in `load.columns` order) and inserts them; returns how many were
    new. The staging table must exist (`load.stage`); with `clear` it is emptied afterwards."""
    async with cur.copy(load.copy) as copy:
        copy.set_types(list(load.types))
        encode = copy.formatter.write_row  # what copy.write_row awaits per row, without the await
        for first in range(0, len(rows), YIELD_EVERY):
            for row in rows[first:first + YIELD_EVERY]:
                if data := encode(row):  # a full buffer (psycopg's BUFFER_SIZE) to send
                    await copy.write(data)
            await asyncio.sleep(0)
    await cur.execute(load.insert)
    inserted = cur.rowcount
    if clear:
        await cur.execute(load.clear)
    return inserted


def stage_chunks(cur: psycopg.Cursor, load: Load, chunks: Iterable[bytes]) -> int:
    """Stages a binary COPY stream of `load.columns` (its header and trailer included), passed
    along unread; returns the rows staged. Call `insert` to move them."""
    cur.execute(load.stage)
    with cur.copy(load.copy) as into:
        for chunk in chunks:
            into.write(chunk)
    return cur.rowcount


def insert(cur: psycopg.Cursor, load: Load) -> int:
    """Moves the staged rows into the table; returns how many were new."""
    cur.execute(load.insert)
    return cur.rowcount
