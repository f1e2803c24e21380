-- ops.gatherer_tls(gatherer_id, sslmode, sslrootcert): the TLS options of production's
-- postgres_fdw servers for one gatherer (kstore_<id>_ts, kstore_<id>_rel), from settings
-- (fdw.sslmode, fdw.sslrootcert), so the link production makes to a gatherer is verified
-- (verify-full) or at least encrypted (require). A null leaves that option as it is, so options
-- set by hand with `alter server` survive. Called by `kstore migrate` / `kstore dedup init`
-- after ops.attach_gatherer().

create or replace function ops.gatherer_tls(
    gatherer_id text, sslmode text, sslrootcert text default null
)
returns void
language plpgsql as $$
declare
    kind text;
begin
    if sslmode is not null and sslmode not in (
        'disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'
    ) then
        raise exception 'ops.gatherer_tls: % is not a libpq sslmode', sslmode;
    end if;
    foreach kind in array array['ts', 'rel'] loop
        perform ops.set_server_option(
            format('kstore_%s_%s', gatherer_id, kind), 'sslmode', sslmode
        );
        perform ops.set_server_option(
            format('kstore_%s_%s', gatherer_id, kind), 'sslrootcert', sslrootcert
        );
    end loop;
end
$$;

-- ops.set_server_option(server, option, value): add or replace one option of a foreign
-- server; a null value changes nothing.
create or replace function ops.set_server_option(server name, option text, value text)
returns void
language plpgsql as $$
begin
    if value is null then
        return;
    end if;
    execute format(
        'alter server %I options (%s %I %L)', server,
        case
            when exists (
                select from pg_foreign_server as s, unnest(s.srvoptions) as o (opt)
                where s.srvname = server and o.opt like option || '=%'
            ) then 'set'
            else 'add'
        end,
        option, value
    );
end
$$;
