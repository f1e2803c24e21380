-- The gatherer roles' search_path in this database (ts or rel): the schemas each role may use,
-- data first, then public (TimescaleDB's functions), so a psql session as the writer or the
-- reader finds `\d trades` or `\d markets` by bare name. Set per database (`alter role ... in
-- database`): roles are shared by every database of a cluster, and a cluster may hold several
-- kinds (tests, a single-host install). Code never relies on it: every statement names its
-- schema.

do $$
declare
    setting record;
begin
    for setting in
        select role_paths.role_name, role_paths.search_path
        from (
            values
            ('kstore_gatherer_writer', 'kstore, ops, public'),
            ('kstore_gatherer_reader', 'kstore, ops, public'),
            ('kstore_dedup_ack', 'ops, public'),
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
