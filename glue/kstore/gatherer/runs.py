"""A gatherer process's capture run, recorded in its `ts` database (ops.capture_runs).

begin() records the start before anything is captured. stop() records the stop in its own
transaction, and only after every buffered row is committed (Writers.close returned), so a stop
the deduplicator sees (ops.capture_state, read in the same snapshot as the rows) comes with
every row of the run visible. A crash leaves the run open, which closes no window early
(decision 0015). Failing to record either end is logged and changes nothing else: a run whose
start went unrecorded still writes rows after the previous stop, and ops.pull believes no stop
with rows after it.
"""

from __future__ import annotations

import logging

import psycopg

log = logging.getLogger("kstore.gather")

START = "insert into ops.capture_runs default values returning run_id"
STOP = ("update ops.capture_runs set stopped_at = now(), stopped_xid = pg_current_xact_id()"
        " where run_id = %s")


async def begin(dsn: str) -> int | None:
    """The new run's id, or None when the database could not record it."""
    try:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True,
                                                         connect_timeout=10) as conn:
            cursor = await conn.execute(START)
            return (await cursor.fetchone())[0]
    except psycopg.Error as exc:
        log.warning("gather: start of the capture run not recorded: %s",
                    str(exc).strip().splitlines()[0])
        return None


async def stop(dsn: str, run_id: int | None) -> None:
    """Marks the run stopped; call only once every captured row is committed."""
    if run_id is None:
        return
    try:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True,
                                                         connect_timeout=10) as conn:
            await conn.execute(STOP, [run_id])
    except psycopg.Error as exc:
        log.warning("gather: stop of capture run %s not recorded: %s", run_id,
                    str(exc).strip().splitlines()[0])
