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
    changes integer := 0;
begin
    if access is null or access not in ('read', 'write', 'none') then
        raise exception 'ops.grant_catalog_tables: access is read, write or none, not %', access;
    end if;
    for t in
        select g.relation, g.wanted, g.held
        from ops.catalog_grants(role_name::regrole, access) as g
        where g.wanted is distinct from g.held
        order by g.relation::text
    loop
        if not t.held <@ t.wanted then
            execute format(
                'revoke %s on %s from %I',
                array_to_string(array(select unnest(t.held) except select unnest(t.wanted)), ', '),
                t.relation, role_name
            );
        end if;
        if not t.wanted <@ t.held then
            execute format(
                'grant %s on %s to %I',
                array_to_string(array(select unnest(t.wanted) except select unnest(t.held)), ', '),
                t.relation, role_name
            );
        end if;
        changes := changes + 1;
    end loop;
    return changes;
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
