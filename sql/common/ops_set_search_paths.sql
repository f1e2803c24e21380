-- ops.set_search_paths(paths): each role of the [role, schemas] pairs of `paths` gets that
-- search_path in this database only (`alter role ... in database ...`: roles are shared by every
-- database of a cluster, and a cluster may hold several kinds), so a psql session as the role
-- finds the tables by bare name. Schemas not made yet are skipped by PostgreSQL until they are.
-- Code never relies on it: every statement names its schema. Returns the number of roles set.

create or replace function ops.set_search_paths(paths text[])
returns integer
language plpgsql as $$
declare
    i integer;
begin
    for i in select generate_subscripts(paths, 1) loop
        execute format(
            'alter role %I in database %I set search_path = %s',
            paths[i][1], current_database(),
            array_to_string(
                array(select quote_ident(trim(s)) from unnest(string_to_array(paths[i][2], ',')) as s),
                ', '
            )
        );
    end loop;
    return coalesce(array_length(paths, 1), 0);
end
$$;

revoke all on function ops.set_search_paths(text[]) from public;  -- the owner's business
