"""The login roles kstore components connect as, named once.

The migrations create them (migrations/gatherer_ts/V0003__roles.sql for a gatherer cluster,
migrations/production/V0003__roles.sql and V0022__transform_role.sql for production) and grant
each only what its component needs. On the embedded topology a component connects as its role
(`topology.dsn_for`); a DSN from the environment is used as given, with whatever user it names.
"""

from __future__ import annotations

# gatherer cluster (its ts and rel databases)
GATHERER_WRITER = "kstore_gatherer_writer"  # the gatherer's writers and registry
GATHERER_READER = "kstore_gatherer_reader"  # read-only: production's postgres_fdw mapping
DEDUP_ACK = "kstore_dedup_ack"  # the deduplicator acknowledging what it merged

# production
DEDUP = "kstore_dedup"  # the deduplicator writing merged rows
EXPORTER = "kstore_exporter"  # lake export: reads, records the manifest
TRANSFORM = "kstore_transform"  # dbt builds processed.* and aggregates.*
ANALYST = "kstore_analyst"  # read only

# both
MAINTAINER = "kstore_maintainer"  # runs ops.maintain() only

GATHERER = (GATHERER_WRITER, GATHERER_READER, DEDUP_ACK, MAINTAINER)
PRODUCTION = (DEDUP, EXPORTER, TRANSFORM, ANALYST, MAINTAINER)
