-- ops.grant_catalog_tables(role, access): the role ends up holding exactly what `access` gives
-- it on every catalog table of this database (decision 0017), whatever it held before; a table
-- that gets its migration and catalog row gets its grants in the same `kstore migrate`, since
-- sql/<kind>/grants.sql calls this after every migration. Returns the number of tables whose
-- privileges changed (0 when they already match). Access:
--   read   select on every table here
--   write  select and insert on every table this database writes (gatherer: a writer pool
--          writes it; production: it is merged, or it is the history its merges append),
--          update too where rows change after insert (reference data, merge 'recent');
--          nothing on the others
--   none   nothing on any table here
-- Only the privileges the tables' owner granted (as the migrations do) on catalog tables are
-- touched: ops tables, partitions and foreign tables keep their own grants.

create or replace function ops.grant_catalog_tables(role_name name, access text)
returns integer
language plpgsql as $$
declare
    t record;
    changed regclass[] := '{}';
begin
    if access is null or access not in ('read', 'write', 'none') then
        raise exception 'ops.grant_catalog_tables: access is read, write or none, not %', access;
    end if;
    -- per table, revoke what is held but not wanted, then grant what is wanted but not held
    for t in
        select
            g.relation,
            format(
                '%s %s on %s %s %I',
                c.verb, array_to_string(c.privileges, ', '), g.relation, c.direction, role_name
            ) as statement
        from ops.catalog_grants(role_name::regrole, access) as g
        cross join lateral (
            values
            (1, 'revoke', 'from', array(select unnest(g.held) except select unnest(g.wanted))),
            (2, 'grant', 'to', array(select unnest(g.wanted) except select unnest(g.held)))
        ) as c (step, verb, direction, privileges)
        where cardinality(c.privileges) > 0
        order by g.relation::text, c.step
    loop
        execute t.statement;
        changed := array_append(changed, t.relation);
    end loop;
    return cardinality(array(select distinct unnest(changed)));
end
$$;

revoke all on function ops.grant_catalog_tables(name, text) from public;  -- the owner's business

-- What `access` gives the role on each catalog table here (wanted) and what the table's owner
-- has granted it there (held), both as sorted lower-case privilege names.
create or replace function ops.catalog_grants(grantee regrole, access text)
returns table (relation regclass, wanted text[], held text[])
language sql stable as $$
    select
        to_regclass(format('kstore.%I', c.table_name)) as relation,
        array(
            select p.privilege
            from unnest(array['insert', 'select', 'update']) as p (privilege)
            where (access = 'read' and p.privilege = 'select')
                or (access = 'write' and w.written and (p.privilege <> 'update' or w.changing))
            order by p.privilege
        ) as wanted,
        array(
            select lower(a.privilege_type)
            from pg_class as r
            cross join lateral aclexplode(r.relacl) as a
            where r.oid = to_regclass(format('kstore.%I', c.table_name))
                and a.grantee = catalog_grants.grantee
                and a.grantor = r.relowner
            order by 1
        ) as held
    from ops.catalog as c
    cross join lateral (
        select
            case ops.database_kind()
                when 'production' then c.merge is not null or c.family = 'history'
                else c.writer is not null
            end as written,
            c.family = 'reference' or c.merge = 'recent' as changing
    ) as w
    where c.here and c.present
$$;
