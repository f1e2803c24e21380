-- The deduplicator reads the gatherers through postgres_fdw; one foreign server per gatherer
-- database and one schema of foreign tables per gatherer are made from settings by
-- ops.attach_gatherer() (sql/production), never by hand.

create extension if not exists postgres_fdw;
