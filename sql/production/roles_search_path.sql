-- The production roles' search_path in this database: the schemas each role may use, data
-- first, so a psql session finds `\d trades` (and the analyst `\d agg_candles_1m`) by bare name.
-- processed and aggregates (and staging) are made by dbt later; until then PostgreSQL skips
-- them. public last (TimescaleDB's functions, e.g. time_bucket). See ops.set_search_paths.

select ops.set_search_paths(array[
    ['kstore_dedup', 'kstore, ops, public'],
    ['kstore_exporter', 'kstore, processed, aggregates, ops, public'],
    ['kstore_analyst', 'kstore, processed, aggregates, ops, public'],
    ['kstore_transform', 'kstore, staging, processed, aggregates, public'],
    ['kstore_maintainer', 'ops, public']
]);
