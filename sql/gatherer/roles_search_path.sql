-- The gatherer roles' search_path in this database (ts or rel): the schemas each role may use,
-- data first, then public (TimescaleDB's functions), so a psql session as the writer or the
-- reader finds `\d trades` or `\d markets` by bare name (ops.set_search_paths).

select ops.set_search_paths(array[
    ['kstore_gatherer_writer', 'kstore, ops, public'],
    ['kstore_gatherer_reader', 'kstore, ops, public'],
    ['kstore_dedup_ack', 'ops, public'],
    ['kstore_maintainer', 'ops, public']
]);
