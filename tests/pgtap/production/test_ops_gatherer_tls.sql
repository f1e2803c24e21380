-- ops.gatherer_tls() (sql/production/ops_gatherer_tls.sql): the TLS options of both foreign
-- servers of a gatherer come from settings; re-running replaces them in place; a null leaves
-- an option as it is (set by hand); re-attaching keeps them; a value that is not a libpq
-- sslmode is refused.

begin;
select plan(5);
set local client_min_messages = warning;

select ops.attach_server('kstore_tls_ts', 'g.example', 5432, 'ts', 'kstore_gatherer_reader', null);
select ops.attach_server(
    'kstore_tls_rel', 'g.example', 5432, 'rel', 'kstore_gatherer_reader', null
);

create temporary view tls_options as
select
    s.srvname::text as server,
    o.opt::text as opt
from pg_foreign_server as s, unnest(s.srvoptions) as o (opt)
where s.srvname in ('kstore_tls_ts', 'kstore_tls_rel') and o.opt ~ '^ssl';

select ops.gatherer_tls('tls', 'verify-full', '/etc/postgresql/gatherer-ca.pem');
select set_eq(
    'select server, opt from tls_options',
    $$
        values
            ('kstore_tls_ts', 'sslmode=verify-full'),
            ('kstore_tls_ts', 'sslrootcert=/etc/postgresql/gatherer-ca.pem'),
            ('kstore_tls_rel', 'sslmode=verify-full'),
            ('kstore_tls_rel', 'sslrootcert=/etc/postgresql/gatherer-ca.pem')
    $$,
    'both servers of the gatherer get sslmode and sslrootcert'
);

select ops.gatherer_tls('tls', 'require');
select set_eq(
    'select server, opt from tls_options',
    $$
        values
            ('kstore_tls_ts', 'sslmode=require'),
            ('kstore_tls_ts', 'sslrootcert=/etc/postgresql/gatherer-ca.pem'),
            ('kstore_tls_rel', 'sslmode=require'),
            ('kstore_tls_rel', 'sslrootcert=/etc/postgresql/gatherer-ca.pem')
    $$,
    're-running replaces sslmode in place; a null sslrootcert leaves it as it was'
);

select ops.gatherer_tls('tls', null, null);
select is((select count(*)::integer from tls_options), 4, 'nulls change nothing');

select ops.attach_server('kstore_tls_ts', 'g2.example', 5432, 'ts', 'kstore_gatherer_reader', null);
select ok(
    (
        select count(*) from tls_options
        where server = 'kstore_tls_ts'
    ) = 2,
    'ops.attach_server() (re-attaching, a gatherer moved) keeps the TLS options'
);

select throws_ok(
    $$select ops.gatherer_tls('tls', 'verify-fully')$$,
    'P0001', 'ops.gatherer_tls: verify-fully is not a libpq sslmode',
    'a value that is not a libpq sslmode is refused'
);

select * from finish();  -- noqa: AM04
rollback;
