"""The table catalog (decision 0016), read from the database: which tables exist and how each is
written, merged, exported and backfilled.

The rows live in `sql/common/ops_tables.sql` and are the same in every database kind;
`ops.catalog` adds what the database itself knows (the primary key, the merge cursor column,
whether the table belongs to this database). Components read it through `load(conn)` instead
of keeping their own lists of tables, so adding a dataset is a migration, a catalog row and a
model. The tables come back in the catalog's order: time series, then reference data, history,
logs; within a family, by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

QUERY = """
select table_name, homes, family, time_column, key_columns, cursor_column, merge, writer,
    lake_grain, lake_prefix, backfill, description, here
from ops.catalog
order by array_position(array['timeseries', 'reference', 'history', 'log'], family), table_name
"""


@dataclass(frozen=True)
class Table:
    """One catalog row. `here` says whether the table belongs in the database it was read from."""

    name: str
    homes: tuple[str, ...]
    family: str
    time_column: str | None
    key_columns: tuple[str, ...]
    cursor_column: str | None
    merge: str | None
    writer: str | None
    lake_grain: str | None
    lake_prefix: str | None
    backfill: bool
    description: str
    here: bool

    @property
    def qualified(self) -> str:
        return f"kstore.{self.name}"

    @property
    def pulled(self) -> bool:
        """Merged into production by ops.pull's transaction-id cursor."""
        return self.merge == "pull"

    @property
    def exported(self) -> bool:
        return self.lake_grain is not None


def load(conn: psycopg.Connection) -> tuple[Table, ...]:
    """Every catalog row, as the database connected to holds them."""
    return _tables(conn.execute(QUERY).fetchall())


async def load_async(conn: psycopg.AsyncConnection) -> tuple[Table, ...]:
    """load() on an asyncio connection."""
    return _tables(await (await conn.execute(QUERY)).fetchall())


def _tables(rows: list[tuple]) -> tuple[Table, ...]:
    return tuple(Table(name, tuple(homes), family, time_column, tuple(keys), cursor, merge,
                       writer, grain, prefix, backfill, description, here)
                 for (name, homes, family, time_column, keys, cursor, merge, writer, grain,
                      prefix, backfill, description, here) in rows)


def select(tables: tuple[Table, ...], **wanted) -> tuple[Table, ...]:
    """The tables whose attributes equal every `wanted` value, e.g. select(t, family="reference")
    or select(t, pulled=True)."""
    return tuple(t for t in tables if all(getattr(t, k) == v for k, v in wanted.items()))


def names(tables: tuple[Table, ...]) -> tuple[str, ...]:
    return tuple(t.name for t in tables)
