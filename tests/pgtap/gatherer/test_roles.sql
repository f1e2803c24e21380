-- The roles of a gatherer cluster (DESIGN §7), the same for its time-series and its reference
-- database (one migration creates them): the writer, the reader (postgres_fdw mapping, logs in
-- read-only), kstore_dedup_ack and kstore_maintainer exist, can log in, hold no elevated
-- attribute and inherit nothing, and may use schemas kstore and ops as granted. What each may
-- do with the tables of each database: gatherer_ts/test_roles.sql, gatherer_rel/test_roles.sql.

begin;
select plan(11);

select results_eq(
    $$
        select * from tap.role_attributes(
            array[
                'kstore_gatherer_writer', 'kstore_gatherer_reader', 'kstore_dedup_ack',
                'kstore_maintainer'
            ]
        )
    $$,
    $$
        values
            ('kstore_dedup_ack', true, false, false, false, false, false),
            ('kstore_gatherer_reader', true, false, false, false, false, false),
            ('kstore_gatherer_writer', true, false, false, false, false, false),
            ('kstore_maintainer', true, false, false, false, false, false)
    $$,
    'the four gatherer roles exist, can log in and hold no elevated attribute'
);

select set_eq(
    $$select * from tap.role_settings(array['kstore_gatherer_writer', 'kstore_gatherer_reader'])$$,
    $$
        values
            ('kstore_gatherer_writer', 'statement_timeout=10s'),
            ('kstore_gatherer_writer', 'idle_in_transaction_session_timeout=30s'),
            ('kstore_gatherer_reader', 'default_transaction_read_only=on'),
            ('kstore_gatherer_reader', 'statement_timeout=60s')
    $$,
    'the writer has bounded timeouts; the reader logs in read-only with a timeout'
);

select is_empty(
    $$
        select * from tap.memberships(
            array[
                'kstore_gatherer_writer', 'kstore_gatherer_reader', 'kstore_dedup_ack',
                'kstore_maintainer'
            ]
        )
    $$,
    'no gatherer role inherits privileges through role membership'
);

-- ---------------------------------------------------------------- schemas

select schema_privs_are(
    'kstore', 'kstore_gatherer_writer', array['USAGE'], 'writer may use schema kstore'
);
select schema_privs_are(
    'ops', 'kstore_gatherer_writer', array['USAGE'],
    'writer may use schema ops (trigger functions), no table in it'
);
select schema_privs_are(
    'kstore', 'kstore_gatherer_reader', array['USAGE'], 'reader may use schema kstore'
);
select schema_privs_are(
    'ops', 'kstore_gatherer_reader', array['USAGE'], 'reader may use schema ops'
);
select schema_privs_are(
    'kstore', 'kstore_dedup_ack', array[]::text[], 'kstore_dedup_ack has no access to kstore'
);
select schema_privs_are(
    'ops', 'kstore_dedup_ack', array['USAGE'], 'kstore_dedup_ack may use schema ops'
);
select schema_privs_are(
    'kstore', 'kstore_maintainer', array[]::text[], 'kstore_maintainer has no access to kstore'
);
select schema_privs_are(
    'ops', 'kstore_maintainer', array['USAGE'], 'kstore_maintainer may use schema ops'
);

select * from finish();  -- noqa: AM04
rollback;
