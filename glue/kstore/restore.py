"""`kstore rebase --gatherer g1`: merge a gatherer again after it was restored into a new cluster.

A gatherer restored from a dump into a new cluster keeps its rows (with the old cluster's
transaction ids) but its new transactions start again from low ids, below production's cursor,
so `ops.pull` refuses it (decision 0012). The recovery is one command, never a hand-edited
cursor (decision 0070): per pulled table, `ops.rebase` merges again every row the gatherer
holds that was received since `since` (default: every row) and moves the cursor to the
gatherer's horizon in the same snapshot; `on conflict` keeps rows production already has once.
Then the gatherer's acknowledgement (`ops.dedup_ack`, which its guarded retention reads) is
set to the new cursors, so the restored acknowledgement of the old cluster can never let
retention drop rows of the new one. Runs as production's owner (the migrating role), like
`kstore dedup init`. docs/operations.md has the whole procedure.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from kstore import catalog, dedup, roles, topology
from kstore.settings import Settings, SettingsError

REBASE = "select rows_read, rows_inserted, next_xid from ops.rebase(%s, %s, %s)"


def rebase(settings: Settings, gatherer_id: str, since: datetime | None = None) -> list[dict]:
    """Per pulled table of the gatherer: rows read, inserted (new to production), new cursor."""
    if gatherer_id not in settings.gatherers:
        raise SettingsError(f"unknown gatherer {gatherer_id!r} "
                            f"(configured: {', '.join(settings.gatherers)})")
    production = topology.dsn_for(settings, topology.PRODUCTION)
    ack_dsn = topology.dsn_for(settings, f"{gatherer_id}_ts", roles.DEDUP_ACK)
    done = []
    with psycopg.connect(production, autocommit=True) as conn, \
            psycopg.connect(ack_dsn, autocommit=True, connect_timeout=10) as gatherer:
        for table in catalog.select(catalog.load(conn), pulled=True):
            with conn.transaction():
                read, inserted, next_xid = conn.execute(
                    REBASE, [gatherer_id, table.name, since]).fetchone()
            if "gatherer_ts" in table.homes:
                _acknowledge(conn, gatherer, gatherer_id, table.name, next_xid)
            done.append({"table": table.name, "rows_read": read, "rows_inserted": inserted,
                         "next_xid": str(next_xid)})
    return done


def _acknowledge(conn, gatherer, gatherer_id: str, table: str, next_xid) -> None:
    watermark = conn.execute(
        "select watermark::text from ops.dedup_cursors where gatherer_id = %s"
        " and table_name = %s", [gatherer_id, table]).fetchone()[0]
    gatherer.execute(dedup.ACK_SQL, [table, next_xid, watermark])
