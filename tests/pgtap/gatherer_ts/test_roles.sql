-- Roles of a gatherer's time-series database (DESIGN §7): the writer inserts and reads its own
-- tables only, under a bounded statement_timeout; the reader (postgres_fdw mapping) only reads,
-- in read-only transactions; kstore_dedup_ack only moves ops.dedup_ack; kstore_maintainer only
-- runs ops.maintain(). None is a superuser. Privileges are checked as granted and as behaviour.
-- default_transaction_read_only applies at login, so under `set role` the reader's refusals
-- come from its privileges.

begin;
select plan(52);

-- Effective privileges of a role on every table of kstore and ops (partitions aside).
create function pg_temp.table_privileges(role_name name)
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
        and c.relkind in ('r', 'p', 'v', 'm', 'f')
        and not c.relispartition
        and has_table_privilege(role_name, c.oid, p.privilege)
    group by n.nspname, c.relname
    order by table_name
$$;

-- ---------------------------------------------------------------- the roles themselves

select results_eq(
    $$
        select
            rolname::text collate "default",
            rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
        from pg_roles
        where rolname in (
            'kstore_gatherer_writer', 'kstore_gatherer_reader', 'kstore_dedup_ack',
            'kstore_maintainer'
        )
        order by rolname
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
    $$
        select r.rolname::text collate "default", s.setting
        from pg_db_role_setting as d
        inner join pg_roles as r on d.setrole = r.oid
        cross join unnest(d.setconfig) as s (setting)
        where d.setdatabase = 0
            and r.rolname in ('kstore_gatherer_writer', 'kstore_gatherer_reader')
    $$,
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
        select m.roleid::regrole
        from pg_auth_members as m
        where m.member in (
            'kstore_gatherer_writer'::regrole, 'kstore_gatherer_reader'::regrole,
            'kstore_dedup_ack'::regrole, 'kstore_maintainer'::regrole
        )
    $$,
    'no gatherer role inherits privileges through role membership'
);

-- ---------------------------------------------------------------- granted privileges

select results_eq(
    $$select * from pg_temp.table_privileges('kstore_gatherer_writer')$$,
    $$
        values
            ('kstore.feed_gaps', 'INSERT,SELECT,UPDATE'),
            ('kstore.orderbook_deltas', 'INSERT,SELECT'),
            ('kstore.orderbook_snapshots', 'INSERT,SELECT'),
            ('kstore.quarantine', 'INSERT,SELECT'),
            ('kstore.tickers', 'INSERT,SELECT'),
            ('kstore.trades', 'INSERT,SELECT')
    $$,
    'writer: insert and select on its tables, update only on feed_gaps, nothing in ops'
);

select results_eq(
    $$select * from pg_temp.table_privileges('kstore_gatherer_reader')$$,
    $$
        values
            ('kstore.feed_gaps', 'SELECT'),
            ('kstore.orderbook_deltas', 'SELECT'),
            ('kstore.orderbook_snapshots', 'SELECT'),
            ('kstore.quarantine', 'SELECT'),
            ('kstore.tickers', 'SELECT'),
            ('kstore.trades', 'SELECT'),
            ('ops.dedup_ack', 'SELECT')
    $$,
    'reader: select only, on the data tables and ops.dedup_ack'
);

select results_eq(
    $$select * from pg_temp.table_privileges('kstore_dedup_ack')$$,
    $$values ('ops.dedup_ack', 'INSERT,SELECT,UPDATE')$$,
    'kstore_dedup_ack: writes ops.dedup_ack and nothing else'
);

select results_eq(
    $$select * from pg_temp.table_privileges('kstore_maintainer')$$,
    $$values ('ops.dedup_ack', 'SELECT')$$,
    'kstore_maintainer: reads ops.dedup_ack and nothing else'
);

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

select function_privs_are(
    'ops', 'maintain', array['timestamp with time zone'], 'kstore_maintainer', array['EXECUTE'],
    'kstore_maintainer may execute ops.maintain()'
);
select function_privs_are(
    'ops', 'maintain', array['timestamp with time zone'], 'kstore_gatherer_writer',
    array[]::text[],
    'the writer may not execute ops.maintain()'
);
select function_privs_are(
    'ops', 'maintain', array['timestamp with time zone'], 'kstore_gatherer_reader',
    array[]::text[],
    'the reader may not execute ops.maintain()'
);
select is_definer(
    'ops', 'maintain', array['timestamp with time zone'],
    'ops.maintain() runs as its owner, so the maintainer needs no table privileges'
);

-- ---------------------------------------------------------------- the writer, as behaviour

set local role kstore_gatherer_writer;

select lives_ok(
    $$
        insert into kstore.trades (
            trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id
        )
        values (gen_random_uuid(), now(), 'KXTEST-1', 0.42, 0.58, 1, 'g1')
        on conflict do nothing
    $$,
    'writer inserts trades'
);
select lives_ok(
    $$
        insert into kstore.orderbook_deltas (
            market_ticker, ts, side, price, delta, use_yes_price, gatherer_id
        )
        values ('KXTEST-1', now(), 'yes', 0.42, 10, true, 'g1')
        on conflict do nothing
    $$,
    'writer inserts orderbook_deltas'
);
select lives_ok(
    $$
        insert into kstore.orderbook_snapshots (
            market_ticker, captured_at, gatherer_id, source, use_yes_price
        )
        values ('KXTEST-1', now(), 'g1', 'rest', true)
        on conflict do nothing
    $$,
    'writer inserts orderbook_snapshots'
);
select lives_ok(
    $$
        insert into kstore.tickers (market_ticker, ts, fingerprint, gatherer_id)
        values ('KXTEST-1', now(), 1, 'g1')
        on conflict do nothing
    $$,
    'writer inserts tickers'
);
select lives_ok(
    $$insert into kstore.quarantine (gatherer_id, reason, raw) values ('g1', 'bad', '\x00')$$,
    'writer quarantines a bad frame'
);
select lives_ok(
    $$
        insert into kstore.feed_gaps (gatherer_id, connection_id, sid, expected_seq, received_seq)
        values ('g1', 'c1', 1, 10, 12)
    $$,
    'writer records a feed gap'
);
select lives_ok(
    $$update kstore.feed_gaps set recovered_at = now(), recovery = 'snapshot'$$,
    'writer marks a feed gap recovered'
);
select results_eq(
    $$select count(*) from kstore.trades$$,
    $$values (1::bigint)$$,
    'writer reads its own rows'
);
select throws_ok(
    $$update kstore.trades set count = 2$$, '42501', null, 'writer cannot update trades'
);
select throws_ok(
    $$delete from kstore.trades$$, '42501', null, 'writer cannot delete trades'
);
select throws_ok(
    $$delete from kstore.quarantine$$, '42501', null, 'writer cannot delete quarantined frames'
);
select throws_ok(
    $$truncate kstore.trades$$, '42501', null, 'writer cannot truncate trades'
);
select throws_ok(
    $$drop table kstore.trades$$, '42501', null, 'writer cannot drop trades'
);
select throws_ok(
    $$alter table kstore.trades add column note text$$, '42501', null,
    'writer cannot alter trades'
);
select throws_ok(
    $$create table kstore.scratch (id integer)$$, '42501', null,
    'writer cannot create tables in kstore'
);
select throws_ok(
    $$select * from ops.dedup_ack$$, '42501', null, 'writer cannot read ops.dedup_ack'
);
select throws_ok(
    $$insert into ops.dedup_ack (table_name, acked_through) values ('trades', now())$$,
    '42501', null,
    'writer cannot acknowledge merges'
);
select throws_ok(
    $$select * from ops.maintain()$$, '42501', null, 'writer cannot run ops.maintain()'
);

reset role;

-- ---------------------------------------------------------------- the reader, as behaviour

set local role kstore_gatherer_reader;

select lives_ok(
    $$select * from kstore.trades where received_at > now() - interval '1 hour'$$,
    'reader reads trades'
);
select lives_ok(
    $$select * from ops.dedup_ack$$, 'reader reads ops.dedup_ack'
);
select throws_ok(
    $$
        insert into kstore.trades (
            trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id
        )
        values (gen_random_uuid(), now(), 'KXTEST-1', 0.42, 0.58, 1, 'g1')
    $$,
    '42501', null,
    'reader cannot insert trades'
);
select throws_ok(
    $$update kstore.feed_gaps set recovery = 'none'$$, '42501', null,
    'reader cannot update feed_gaps'
);
select throws_ok(
    $$delete from kstore.tickers$$, '42501', null, 'reader cannot delete tickers'
);
select throws_ok(
    $$insert into ops.dedup_ack (table_name, acked_through) values ('trades', now())$$,
    '42501', null,
    'reader cannot acknowledge merges'
);

reset role;

-- ---------------------------------------------------------------- kstore_dedup_ack

set local role kstore_dedup_ack;

select lives_ok(
    $$insert into ops.dedup_ack (table_name, acked_through) values ('trades', now())$$,
    'kstore_dedup_ack records a watermark'
);
select lives_ok(
    $$
        update ops.dedup_ack set acked_through = now(), acked_at = now()
        where table_name = 'trades'
    $$,
    'kstore_dedup_ack advances a watermark'
);
select throws_ok(
    $$delete from ops.dedup_ack$$, '42501', null, 'kstore_dedup_ack cannot delete watermarks'
);
select throws_ok(
    $$select * from kstore.trades$$, '42501', null, 'kstore_dedup_ack cannot read trades'
);

reset role;

-- ---------------------------------------------------------------- kstore_maintainer

set local role kstore_maintainer;

select lives_ok(
    $$select * from ops.maintain()$$, 'kstore_maintainer runs ops.maintain()'
);
select lives_ok(
    $$select * from ops.dedup_ack$$, 'kstore_maintainer reads ops.dedup_ack'
);
select throws_ok(
    $$select * from kstore.trades$$, '42501', null, 'kstore_maintainer cannot read trades'
);
select throws_ok(
    $$update ops.dedup_ack set acked_through = 'infinity'$$, '42501', null,
    'kstore_maintainer cannot move watermarks (which would unlock retention)'
);
select throws_ok(
    $$update ops.table_policies set retain_for = '1 day'$$, '42501', null,
    'kstore_maintainer cannot change the retention policy'
);

reset role;

select * from finish();  -- noqa: AM04
rollback;
