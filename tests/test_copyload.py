"""kstore.copyload: tables' columns and types come from the database; a schema that lacks what a
writer writes is a one-line error."""

from __future__ import annotations

import psycopg
import pytest

from kstore import copyload
from kstore.gatherer.rows import TABLE_COLUMNS


def test_columns_and_types_are_the_databases_own(gatherer_ts):
    types = dict(copyload.columns(gatherer_ts, "orderbook_snapshots"))
    assert set(TABLE_COLUMNS["orderbook_snapshots"]) <= types.keys()
    assert (types["yes_prices"], types["captured_at"], types["seq"]) == (
        "numeric[]", "timestamp with time zone", "bigint")
    load = copyload.load_sql("orderbook_snapshots", copyload.typed(
        "orderbook_snapshots", TABLE_COLUMNS["orderbook_snapshots"], types.items()))
    assert load.columns == TABLE_COLUMNS["orderbook_snapshots"]
    assert "numeric(" not in load.stage.as_string(gatherer_ts)  # base types: no typmod


def test_a_schema_without_the_table_or_a_column_is_a_one_line_error(server):
    empty = server.database("gatherer_ts", migrated=False)
    with psycopg.connect(empty.dsn) as conn:
        found = copyload.columns(conn, "trades")
    assert found == []
    with pytest.raises(copyload.MissingColumns, match=r"^kstore\.trades: the database lacks "
                                                      r"the table \(migrate it first\)$"):
        copyload.typed("trades", TABLE_COLUMNS["trades"], found)
    with pytest.raises(copyload.MissingColumns, match="lacks columns count, gatherer_id"):
        copyload.typed("trades", ["ts", "count", "gatherer_id"], [("ts", "timestamptz")])
