-- Roles of the production cluster, created idempotently: the deduplicator writes merged rows,
-- the exporter reads and records the export manifest, the analyst only reads, the maintainer
-- only runs ops.maintain(). Login roles carry no password here (set out of band).

do $$
declare
    role_name text;
begin
    foreach role_name in array array[
        'kstore_dedup', 'kstore_exporter', 'kstore_analyst', 'kstore_maintainer'
    ]
    loop
        if not exists (select from pg_roles where rolname = role_name) then
            execute format('create role %I login', role_name);
        end if;
    end loop;
end
$$;

alter role kstore_dedup set statement_timeout = '5min';
alter role kstore_exporter set statement_timeout = '30min';
alter role kstore_analyst set default_transaction_read_only = on;
alter role kstore_analyst set statement_timeout = '15min';

grant usage on schema kstore to kstore_dedup, kstore_exporter, kstore_analyst;
grant usage on schema ops to kstore_dedup, kstore_exporter, kstore_analyst, kstore_maintainer;
