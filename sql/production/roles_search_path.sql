-- The production roles' search_path in this database: the schemas each role may use, data
-- first, so a psql session finds `\d trades` (and the analyst `\d agg_candles_1m`) by bare name.
-- processed and aggregates (and staging) are made by dbt later; until then PostgreSQL skips
-- them. public last (TimescaleDB's functions, e.g. time_bucket). Set per database (`alter role
-- ... in database`): roles are shared by every database of a cluster. Code never relies on it:
-- every statement names its schema.

do $$
declare
    setting record;
begin
    for setting in
        select role_paths.role_name, role_paths.search_path
        from (
            values
            ('kstore_dedup', 'kstore, ops, public'),
            ('kstore_exporter', 'kstore, processed, aggregates, ops, public'),
            ('kstore_analyst', 'kstore, processed, aggregates, ops, public'),
            ('kstore_transform', 'kstore, staging, processed, aggregates, public'),
            ('kstore_maintainer', 'ops, public')
        ) as role_paths (role_name, search_path)
    loop
        execute format(
            'alter role %I in database %I set search_path = %s',
            setting.role_name, current_database(), setting.search_path
        );
    end loop;
end
$$;
