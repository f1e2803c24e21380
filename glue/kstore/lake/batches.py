"""The exporter's reads: production's rows of a batch of windows (one UTC day) into DuckDB, one
batch ahead of the writer (decision 0082).

While the windows of day N are written, read back and recorded (DuckDB, one thread), day N+1
streams out of production (its backend encoding the rows, a second DuckDB connection decoding
and sorting them) and production counts it (ops.lake_stats, on the manifest connection): on two
cores the reading no longer waits for the writing. At most two batches are in DuckDB's memory
(it spills to its temp_directory beyond that); each batch is a table of the exporter's
in-memory database, dropped once its windows are done.
A batch's table holds the rows in the lake's types (production's casts: layout.py), sorted by
time, then key (one timestamp first: no per-row date_trunc; time order compresses the
timestamps best; a total order, so the same rows give the same bytes): each window is a
contiguous run that DuckDB's scan finds by zonemap and writes as it lies.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import duckdb
import psycopg

from kstore.lake import manifest
from kstore.lake.destination import cursor, sql_literal
from kstore.lake.manifest import Stats
from kstore.lake.windows import Dataset, Window


@dataclass
class Batch:
    """Windows whose rows were read into DuckDB's table `table`, and production's own count of
    each (ops.lake_stats: what the objects must hold)."""

    windows: list[Window]
    table: str
    expected: dict[datetime, Stats]
    alone: bool = False  # no other batch is read meanwhile: the writer may use both cores

    @property
    def largest(self) -> int:
        return max((stats.rows for stats in self.expected.values()), default=0)


class Reader:
    """Reads batches for one dataset on two threads of its own (the DuckDB read, production's
    count), one batch ahead of whoever iterates `ahead()`. `source(low, high)` is the query
    production runs for [low, high); `order` the DuckDB order of the rows."""

    def __init__(self, duck: duckdb.DuckDBPyConnection, pg: psycopg.Connection,
                 dataset: Dataset, source, order: str) -> None:
        self.duck, self.pg, self.dataset = duck, pg, dataset
        self.source, self.order = source, order
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="kstore-export-read")
        # A second connection to the same in-memory database (production attached), so the
        # read runs beside the writer's statements.
        self.cursor = cursor(duck)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.cursor.close()

    def ahead(self, batches: list[list[Window]]) -> Iterator[Batch]:
        """Each batch, read; the next one is read meanwhile. A batch's table is dropped when
        the caller asks for the next one, or stops (the batch read ahead is then waited for
        and dropped: nothing is left behind)."""
        pending = self._start(batches[0], 0) if batches else None
        try:
            for number in range(len(batches)):
                batch, pending = self._finish(pending), None
                if number + 1 < len(batches):
                    pending = self._start(batches[number + 1], number + 1)
                batch.alone = pending is None
                try:
                    yield batch
                finally:
                    self.drop(batch.table)
        finally:
            if pending is not None:  # the caller stopped: wait for the batch read ahead
                table, read, counted, _ = pending
                for future in (read, counted):
                    future.exception()  # a failure of what is discarded is moot
                self.drop(table)

    def _start(self, windows: list[Window], number: int) -> tuple[str, Future, Future, list]:
        low, high = windows[0].start, windows[-1].end
        table = f"kstore_batch_{number % 2}"
        counted = self.pool.submit(manifest.stats, self.pg, self.dataset, low, high)
        read = self.pool.submit(self._read, table, low, high)
        return table, read, counted, windows

    def _finish(self, pending: tuple[str, Future, Future, list]) -> Batch:
        table, read, counted, windows = pending
        try:
            read.result()
            return Batch(windows, table, counted.result())
        except BaseException:
            counted.exception()
            self.drop(table)
            raise

    def _read(self, table: str, low: datetime, high: datetime) -> None:
        query = sql_literal(self.source(low, high))
        self.cursor.execute(f"create or replace table {table} as select * from "
                            f"postgres_query('prod', {query}) order by {self.order}")

    def drop(self, table: str) -> None:
        self.duck.execute(f"drop table if exists {table}")
