-- Privileges of the gatherer roles on the reference database: the writer upserts series,
-- events and markets; the reader (postgres_fdw mapping) only reads.

grant select, insert, update on kstore.series, kstore.events, kstore.markets
to kstore_gatherer_writer;
grant select on kstore.series, kstore.events, kstore.markets to kstore_gatherer_reader;
