-- ops.attach_gatherer() and its parts in production (DESIGN §5, sql/production/
-- ops_attach_gatherer.sql): postgres_fdw is installed; the functions take the arguments
-- `kstore migrate` passes from settings; ops.pulled_tables() names the seven tables a gatherer
-- is pulled from; a gatherer id that is not a lower-case identifier is refused before anything
-- is made of it; ops.attach_server() makes one server per gatherer database, mapped for
-- kstore_dedup and the migrating role to the gatherer's reader, and re-running it updates
-- both in place. Importing the foreign tables needs a live gatherer: tested in pytest.

begin;
select plan(10);
set local client_min_messages = warning;

select has_extension('postgres_fdw', 'postgres_fdw is installed');

select results_eq(
    $$
        select p.proname::text collate "default", pg_get_function_arguments(p.oid),
            pg_get_function_result(p.oid)
        from pg_proc as p
        where p.pronamespace = 'ops'::regnamespace
            and p.proname in ('attach_gatherer', 'attach_server', 'pulled_tables')
        order by p.proname
    $$,
    $$
        values
            (
                'attach_gatherer',
                'gatherer_id text, ts_host text, ts_port integer, ts_dbname text, '
                || 'rel_host text, rel_port integer, rel_dbname text, '
                || 'remote_user text DEFAULT ''kstore_gatherer_reader''::text, '
                || 'remote_password text DEFAULT NULL::text',
                'void'
            ),
            (
                'attach_server',
                'server name, host text, port integer, dbname text, remote_user text, '
                || 'remote_password text',
                'void'
            ),
            ('pulled_tables', '', 'text[]')
    $$,
    'ops.attach_gatherer(), ops.attach_server() and ops.pulled_tables() with their signatures'
);

select set_eq(
    $$select unnest(ops.pulled_tables())$$,
    array[
        'trades', 'orderbook_deltas', 'orderbook_snapshots', 'tickers', 'series', 'events',
        'markets'
    ],
    'ops.pulled_tables() names the four time-series and the three reference tables'
);
select is_empty(
    $$
        select unnest(ops.pulled_tables())
        except
        select * from tap.tables_in('kstore')
    $$,
    'every pulled table is a table of production'
);

select throws_ok(
    $$
        select ops.attach_gatherer(
            'g1; drop schema kstore', 'localhost', 5432, 'g1_ts', 'localhost', 5432, 'g1_rel'
        )
    $$,
    'P0001', 'gatherer id g1; drop schema kstore is not a lower-case identifier',
    'a gatherer id that is not a lower-case identifier is refused'
);

-- ---------------------------------------------------------------- ops.attach_server

-- The server of a (fictitious) gatherer database, mapped without a password (embedded setup).
select ops.attach_server(
    'kstore_tap_ts', 'gatherer.example', 5433, 'tap_ts', 'kstore_gatherer_reader', null
);

select results_eq(
    $$
        select w.fdwname::text collate "default", s.srvoptions collate "default"
        from pg_foreign_server as s
        inner join pg_foreign_data_wrapper as w on s.srvfdw = w.oid
        where s.srvname = 'kstore_tap_ts'
    $$,
    $$
        values (
            'postgres_fdw',
            array[
                'fetch_size=10000', 'host=gatherer.example', 'port=5433', 'dbname=tap_ts',
                'connect_timeout=10', 'keepalives_idle=10', 'keepalives_interval=5',
                'keepalives_count=3', 'tcp_user_timeout=30000'
            ]
        )
    $$,
    'ops.attach_server() makes a postgres_fdw server for the gatherer database, with bounds on '
    'connecting and on a dead peer (a partitioned gatherer fails a pull within seconds)'
);
select results_eq(
    $$
        select m.usename::text = current_user, m.umoptions collate "default"
        from pg_user_mappings as m
        where m.srvname = 'kstore_tap_ts'
        order by 1
    $$,
    $$
        values
            (false, array['user=kstore_gatherer_reader', 'password_required=false']),
            (true, array['user=kstore_gatherer_reader', 'password_required=false'])
    $$,
    'kstore_dedup and the migrating role are mapped to the gatherer''s reader'
);
select ok(
    has_server_privilege('kstore_dedup', 'kstore_tap_ts', 'USAGE')
    and exists (
        select from pg_user_mappings as m
        where m.srvname = 'kstore_tap_ts' and m.usename = 'kstore_dedup'
    ),
    'kstore_dedup may use the server, through its own mapping'
);

-- Settings changed: the gatherer moved and its reader got a password.
select ops.attach_server(
    'kstore_tap_ts', 'gatherer2.example', 5434, 'tap_ts', 'kstore_gatherer_reader', 's3cret'
);

select results_eq(
    $$
        select s.srvoptions collate "default"
        from pg_foreign_server as s
        where s.srvname = 'kstore_tap_ts'
    $$,
    $$
        values (
            array[
                'fetch_size=10000', 'host=gatherer2.example', 'port=5434', 'dbname=tap_ts',
                'connect_timeout=10', 'keepalives_idle=10', 'keepalives_interval=5',
                'keepalives_count=3', 'tcp_user_timeout=30000'
            ]
        )
    $$,
    're-running ops.attach_server() updates the server in place'
);
select results_eq(
    $$
        select m.usename::text = current_user, m.umoptions collate "default"
        from pg_user_mappings as m
        where m.srvname = 'kstore_tap_ts'
        order by 1
    $$,
    $$
        values
            (false, array['user=kstore_gatherer_reader', 'password=s3cret']),
            (true, array['user=kstore_gatherer_reader', 'password=s3cret'])
    $$,
    'and replaces both mappings, one per role'
);

select * from finish();  -- noqa: AM04
rollback;
