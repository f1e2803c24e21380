-- Roles of a gatherer cluster (shared by its `ts` and `rel` databases), created idempotently.
-- Login roles carry no password here: deployments set one out of band, the embedded topology
-- trusts loopback. The writer's statement_timeout bounds how long a write can stay open, which
-- the deduplicator's safety lag relies on.

do $$
declare
    role_name text;
begin
    foreach role_name in array array[
        'kstore_gatherer_writer', 'kstore_gatherer_reader', 'kstore_dedup_ack', 'kstore_maintainer'
    ]
    loop
        if not exists (select from pg_roles where rolname = role_name) then
            execute format('create role %I login', role_name);
        end if;
    end loop;
end
$$;

alter role kstore_gatherer_writer set statement_timeout = '10s';
alter role kstore_gatherer_writer set idle_in_transaction_session_timeout = '30s';
alter role kstore_gatherer_reader set default_transaction_read_only = on;
alter role kstore_gatherer_reader set statement_timeout = '60s';

grant usage on schema kstore to kstore_gatherer_writer, kstore_gatherer_reader;
-- ops holds trigger functions the writer's upserts run (reference data) and control tables
-- it has no privileges on.
grant usage on schema ops to
kstore_gatherer_writer, kstore_gatherer_reader, kstore_dedup_ack, kstore_maintainer;
