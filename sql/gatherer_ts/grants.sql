-- Privileges on the ops tables of a gatherer's time-series database (decision 0017; the kstore
-- tables: sql/gatherer/grants.sql), re-applied after every migration: kstore_dedup_ack moves
-- the merge acknowledgements that unlock retention, which the reader and the maintainer only
-- read; the writer records its capture runs and journal checkpoints.

grant select, insert, update on ops.dedup_ack to kstore_dedup_ack;
grant select on ops.dedup_ack to kstore_gatherer_reader, kstore_maintainer;
grant select, insert, update on ops.capture_runs to kstore_gatherer_writer;
grant select, insert, update on ops.journal_checkpoints to kstore_gatherer_writer;
