-- ops.attach_gatherer(...): makes production able to read one gatherer, idempotently: a
-- postgres_fdw server per gatherer database (ts, rel), user mappings to the gatherer's
-- read-only role for kstore_dedup and the migrating role, the schema gatherer_<id> holding its
-- foreign tables (re-imported, so a schema change on the gatherer is picked up), the two
-- transaction horizons and the capture state, and a dedup cursor per table. Called by
-- `kstore migrate` from settings.

create or replace function ops.attach_gatherer(
    gatherer_id text, ts_host text, ts_port integer, ts_dbname text,
    rel_host text, rel_port integer, rel_dbname text,
    remote_user text default 'kstore_gatherer_reader', remote_password text default null
)
returns void
language plpgsql as $$
declare
    local_schema name := 'gatherer_' || gatherer_id;
    kind text;
begin
    if gatherer_id !~ '^[a-z][a-z0-9_]{0,30}$' then
        raise exception 'gatherer id % is not a lower-case identifier', gatherer_id;
    end if;
    foreach kind in array array['ts', 'rel'] loop
        perform ops.attach_server(
            format('kstore_%s_%s', gatherer_id, kind),
            case kind when 'ts' then ts_host else rel_host end,
            case kind when 'ts' then ts_port else rel_port end,
            case kind when 'ts' then ts_dbname else rel_dbname end, remote_user, remote_password
        );
    end loop;
    execute format('drop schema if exists %I cascade', local_schema);
    execute format('create schema %I', local_schema);
    -- The merged tables of each gatherer database, from the table catalog.
    foreach kind in array array['ts', 'rel'] loop
        execute format(
            'import foreign schema kstore limit to (%s) from server %I into %I',
            (
                select string_agg(quote_ident(t.table_name), ', ' order by t.table_name)
                from ops.tables as t
                where 'gatherer_' || kind = any(t.homes) and t.merge is not null
            ),
            format('kstore_%s_%s', gatherer_id, kind), local_schema
        );
    end loop;
    foreach kind in array array['ts', 'rel'] loop
        execute format(
            'create foreign table %I.%I (horizon xid8) server %I '
            'options (schema_name %L, table_name %L)',
            local_schema, kind || '_xact_horizon', format('kstore_%s_%s', gatherer_id, kind),
            'ops', 'xact_horizon'
        );
    end loop;
    execute format(
        'create foreign table %I.ts_capture_state (stopped_at timestamptz, stopped_xid xid8) '
        'server %I options (schema_name %L, table_name %L)',
        local_schema, format('kstore_%s_ts', gatherer_id), 'ops', 'capture_state'
    );
    execute format('grant usage on schema %I to kstore_dedup', local_schema);
    execute format('grant select on all tables in schema %I to kstore_dedup', local_schema);
    insert into ops.dedup_cursors (gatherer_id, table_name)
    select attach_gatherer.gatherer_id, t.name
    from unnest(ops.pulled_tables()) as t (name)
    on conflict do nothing;
end
$$;

create or replace function ops.attach_server(
    server name, host text, port integer, dbname text, remote_user text, remote_password text
)
returns void
language plpgsql as $$
declare
    local_user name;
    mapping text;
    pair text[];
begin
    if not exists (select from pg_foreign_server where srvname = server) then
        execute format(
            'create server %I foreign data wrapper postgres_fdw options (fetch_size %L)',
            server, '10000'
        );
    end if;
    -- A gatherer cut off the network fails a pull within seconds instead of hanging
    -- production's session for minutes (TCP retries): connect and unacknowledged-send bounds,
    -- keepalives for an idle wait on a dead peer. Set on every attach, so old servers get them.
    foreach pair slice 1 in array array[
        ['host', host], ['port', port::text], ['dbname', dbname], ['connect_timeout', '10'],
        ['keepalives_idle', '10'], ['keepalives_interval', '5'], ['keepalives_count', '3'],
        ['tcp_user_timeout', '30000']
    ] loop
        execute format(
            'alter server %I options (%s %I %L)', server,
            case when exists (
                select from pg_foreign_server as s, unnest(s.srvoptions) as o (opt)
                where s.srvname = server and o.opt like pair[1] || '=%'
            ) then 'set' else 'add' end,
            pair[1], pair[2]
        );
    end loop;
    execute format('grant usage on foreign server %I to kstore_dedup', server);
    mapping := case
        when remote_password is null then format('user %L, password_required %L', remote_user, 'false')
        else format('user %L, password %L', remote_user, remote_password)
    end;
    foreach local_user in array array['kstore_dedup', current_user] loop
        execute format('drop user mapping if exists for %I server %I', local_user, server);
        execute format('create user mapping for %I server %I options (%s)', local_user, server, mapping);
    end loop;
end
$$;

-- ops.pulled_tables(): the tables ops.pull merges by cursor (the table catalog's merge = pull),
-- time series first.
create or replace function ops.pulled_tables()
returns text[]
language sql stable as $$
    select array_agg(t.table_name::text order by t.family = 'reference', t.table_name)
    from ops.tables as t
    where t.merge = 'pull'
$$;
