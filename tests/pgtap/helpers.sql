-- Helpers of the pgTAP suite, in schema tap: kstore.testing loads this file into every database
-- it tests (after pgTAP, before the tests), so the test files of every folder share one copy.
-- They read the catalog, name this database's writer, or write reference rows through the
-- writers' upserts; none asserts. plpgsql bodies resolve tables only when called, so the file
-- loads into every kind.

create schema if not exists tap;

-- The tables of a schema, partitions aside.
create or replace function tap.tables_in(schema_name regnamespace)
returns setof text
language sql stable as $$
    select c.relname::text
    from pg_class as c
    where c.relnamespace = schema_name and c.relkind in ('r', 'p') and not c.relispartition
$$;

-- (name, type, not null, default) of every column, in column order.
create or replace function tap.columns_of(relation regclass)
returns table (column_name text, column_type text, not_null boolean, column_default text)
language sql stable as $$
    select
        a.attname::text as column_name,
        format_type(a.atttypid, a.atttypmod) as column_type,
        a.attnotnull as not_null,
        pg_get_expr(d.adbin, d.adrelid) as column_default
    from pg_attribute as a
    left join pg_attrdef as d on a.attrelid = d.adrelid and a.attnum = d.adnum
    where a.attrelid = relation and a.attnum > 0 and not a.attisdropped
    order by a.attnum
$$;

-- Effective privileges of a role on every table of kstore and ops (partitions aside).
create or replace function tap.table_privileges(role_name name)
returns table (table_name text, privileges text)
language sql stable as $$
    select
        format('%I.%I', n.nspname, c.relname) as table_name,
        string_agg(p.privilege, ',' order by p.privilege) as privileges
    from pg_class as c
    inner join pg_namespace as n on c.relnamespace = n.oid
    cross join
        unnest(
            array['DELETE', 'INSERT', 'REFERENCES', 'SELECT', 'TRIGGER', 'TRUNCATE', 'UPDATE']
        ) as p (privilege)
    where n.nspname in ('kstore', 'ops')
        -- the table catalog is readable by every role: common/test_table_catalog.sql
        and format('%I.%I', n.nspname, c.relname) not in ('ops.database', 'ops.tables', 'ops.catalog')
        and c.relkind in ('r', 'p', 'v', 'm', 'f')
        and not c.relispartition
        and has_table_privilege(role_name, c.oid, p.privilege)
    group by n.nspname, c.relname
    order by table_name
$$;

-- Attributes of the named roles: can they log in, do they hold any elevated attribute.
create or replace function tap.role_attributes(role_names text[])
returns table (
    role_name text, can_login boolean, superuser boolean, create_role boolean,
    create_db boolean, replication boolean, bypass_rls boolean
)
language sql stable as $$
    select
        r.rolname::text as role_name,
        r.rolcanlogin as can_login,
        r.rolsuper as superuser,
        r.rolcreaterole as create_role,
        r.rolcreatedb as create_db,
        r.rolreplication as replication,
        r.rolbypassrls as bypass_rls
    from pg_roles as r
    where r.rolname = any(role_names)
    order by r.rolname
$$;

-- Settings the named roles get at login in every database, as 'name=value'.
create or replace function tap.role_settings(role_names text[])
returns table (role_name text, setting text)
language sql stable as $$
    select r.rolname::text as role_name, s.setting
    from pg_db_role_setting as d
    inner join pg_roles as r on d.setrole = r.oid
    cross join unnest(d.setconfig) as s (setting)
    where d.setdatabase = 0 and r.rolname = any(role_names)
$$;

-- Roles the named roles are members of, whose privileges they could inherit.
create or replace function tap.memberships(role_names text[])
returns setof regrole
language sql stable as $$
    select m.roleid::regrole
    from pg_auth_members as m
    inner join pg_roles as r on m.member = r.oid
    where r.rolname = any(role_names)
$$;

-- The role that writes the time-series tables of this database: production's deduplicator
-- (production is the database with an export manifest), else the gatherer's writer.
create or replace function tap.writer_role()
returns text
language sql stable as $$
    select
        case
            when to_regclass('ops.export_manifest') is null then 'kstore_gatherer_writer'
            else 'kstore_dedup'
        end
$$;

-- The writers' upserts of one version of a series, event (of series KXS) or market (of event
-- KXE): the incoming version replaces the current row only when ops.keep_newest() lets it. A
-- market's observed_at defaults to now; raw carries the version's own fields, so distinct
-- versions have distinct content hashes.
create or replace function tap.deliver_series(
    ticker text, version_title text, version_updated timestamptz, version_observed timestamptz
)
returns void
language plpgsql as $$
begin
    insert into kstore.series as s (series_ticker, title, updated_time, observed_at, raw)
    values (
        ticker, version_title, version_updated, version_observed,
        jsonb_build_object('ticker', ticker, 'title', version_title, 'updated', version_updated)
    )
    on conflict (series_ticker) do update set
        title = excluded.title,
        updated_time = excluded.updated_time,
        observed_at = excluded.observed_at,
        raw = excluded.raw;
end
$$;

create or replace function tap.deliver_event(
    ticker text, version_title text, version_observed timestamptz
)
returns void
language plpgsql as $$
begin
    insert into kstore.events as e (event_ticker, series_ticker, title, observed_at, raw)
    values (
        ticker, 'KXS', version_title, version_observed, jsonb_build_object('title', version_title)
    )
    on conflict (event_ticker) do update set
        title = excluded.title,
        observed_at = excluded.observed_at,
        raw = excluded.raw;
end
$$;

create or replace function tap.deliver_market(
    ticker text, version_status text, version_updated timestamptz,
    version_observed timestamptz default null
)
returns void
language plpgsql as $$
begin
    insert into kstore.markets as m (
        market_ticker, event_ticker, status, updated_time, observed_at, raw
    )
    values (
        ticker, 'KXE', version_status, version_updated,
        coalesce(version_observed, clock_timestamp()),
        jsonb_build_object('status', version_status)
    )
    on conflict (market_ticker) do update set
        status = excluded.status,
        updated_time = excluded.updated_time,
        observed_at = excluded.observed_at,
        raw = excluded.raw;
end
$$;

-- The search_path each role gets in this database (alter role ... in database ... set).
create or replace function tap.role_search_paths()
returns table (role_name text, search_path text)
language sql stable as $$
    select
        r.rolname::text as role_name,
        substr(s.setting, length('search_path=') + 1) as search_path
    from pg_db_role_setting as d
    inner join pg_roles as r on d.setrole = r.oid
    inner join pg_database as db on d.setdatabase = db.oid
    cross join unnest(d.setconfig) as s (setting)
    where db.datname = current_database() and s.setting like 'search_path=%'
$$;

-- The relation a bare name resolves to under a search_path (the caller's path is restored).
create or replace function tap.resolves(path text, bare_name text)
returns regclass
language plpgsql as $$
declare
    saved text := current_setting('search_path');
    found regclass;
begin
    perform set_config('search_path', path, true);
    found := to_regclass(bare_name);
    perform set_config('search_path', saved, true);
    return found;
end
$$;
