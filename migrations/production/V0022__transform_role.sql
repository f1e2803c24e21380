-- The dbt role (`kstore transform`): reads the merged kstore tables and builds the staging,
-- processed and aggregates layers in schemas it creates and owns (so it needs create on the
-- database, temporary for incremental builds). It cannot write the kstore tables. Whatever it
-- creates is readable by the exporter (lake export of the layers) and by the analyst.
-- Created idempotently, login without password (set out of band), like V0003.

do $$
begin
    if not exists (select from pg_roles where rolname = 'kstore_transform') then
        create role kstore_transform login;
    end if;
    execute format(
        'grant create, temporary on database %I to kstore_transform', current_database()
    );
end
$$;

-- A full rebuild of the processed layer scans days of deltas: bounded, but generously.
alter role kstore_transform set statement_timeout = '2h';

grant usage on schema kstore to kstore_transform;
grant select on all tables in schema kstore to kstore_transform;

-- Schemas and tables (views included) that kstore_transform creates from now on.
alter default privileges for role kstore_transform
grant usage on schemas to kstore_exporter, kstore_analyst;
alter default privileges for role kstore_transform
grant select on tables to kstore_exporter, kstore_analyst;
