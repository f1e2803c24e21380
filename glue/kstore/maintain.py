"""`kstore maintain`: run the guarded maintenance pass on every time-series database.

The logic is SQL (`ops.maintain()`); this module only connects as the least-privileged
maintainer role and reports what each database did.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from kstore.roles import MAINTAINER
from kstore.settings import Settings
from kstore.topology import TARGET_KINDS, Database, databases

TIMESERIES_KINDS = ("gatherer_ts", "production")


def targets(settings: Settings, target: str) -> list[Database]:
    return [db for db in databases(settings, TARGET_KINDS[target]) if db.kind in TIMESERIES_KINDS]


def run(db: Database, as_of: datetime | None = None) -> list[tuple[str, str, str, str]]:
    """One maintenance pass on one database; returns (table, action, object, detail) rows."""
    with psycopg.connect(db.dsn_for(MAINTAINER), autocommit=True, connect_timeout=10) as conn:
        if as_of is None:
            return conn.execute("select * from ops.maintain()").fetchall()
        return conn.execute("select * from ops.maintain(%s)", [as_of]).fetchall()
