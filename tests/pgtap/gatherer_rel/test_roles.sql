-- Roles in a gatherer's reference database (DESIGN §7): the writer inserts and upserts series,
-- events and markets (newest version wins, see reference/test_ops_keep_newest.sql) and nothing
-- else; the reader (postgres_fdw mapping) only reads; kstore_dedup_ack and kstore_maintainer
-- have nothing to do here. The roles themselves: gatherer/test_roles.sql.

begin;
select plan(20);

-- ---------------------------------------------------------------- granted privileges

select results_eq(
    $$select * from tap.table_privileges('kstore_gatherer_writer')$$,
    $$
        values
            ('kstore.events', 'INSERT,SELECT,UPDATE'),
            ('kstore.markets', 'INSERT,SELECT,UPDATE'),
            ('kstore.series', 'INSERT,SELECT,UPDATE')
    $$,
    'writer: insert, select and update on series, events and markets only'
);

select results_eq(
    $$select * from tap.table_privileges('kstore_gatherer_reader')$$,
    $$
        values
            ('kstore.events', 'SELECT'),
            ('kstore.markets', 'SELECT'),
            ('kstore.series', 'SELECT'),
            ('ops.xact_horizon', 'SELECT')
    $$,
    'reader: select only, on series, events, markets and ops.xact_horizon'
);

select is_empty(
    $$select * from tap.table_privileges('kstore_dedup_ack')$$,
    'kstore_dedup_ack has no table privilege in the reference database'
);

select is_empty(
    $$select * from tap.table_privileges('kstore_maintainer')$$,
    'kstore_maintainer has no table privilege in the reference database'
);

-- ---------------------------------------------------------------- the writer, as behaviour

set local role kstore_gatherer_writer;

select lives_ok(
    $$
        insert into kstore.series (series_ticker, updated_time, raw)
        values ('KXTEST', '2030-01-01 00:00:00+00', '{"ticker": "KXTEST", "v": 1}')
    $$,
    'writer inserts a series'
);
select lives_ok(
    $$
        insert into kstore.events (event_ticker, series_ticker, raw)
        values ('KXTEST-E', 'KXTEST', '{"event_ticker": "KXTEST-E"}')
    $$,
    'writer inserts an event'
);
select lives_ok(
    $$
        insert into kstore.markets (market_ticker, event_ticker, raw)
        values ('KXTEST-1', 'KXTEST-E', '{"ticker": "KXTEST-1"}')
    $$,
    'writer inserts a market'
);

-- The upsert path runs ops.keep_newest(), which calls ops.is_newer(): the writer reaches ops.
select lives_ok(
    $$
        insert into kstore.series (series_ticker, updated_time, raw)
        values ('KXTEST', '2030-01-02 00:00:00+00', '{"ticker": "KXTEST", "v": 2}')
        on conflict (series_ticker) do update set
            updated_time = excluded.updated_time,
            observed_at = excluded.observed_at,
            raw = excluded.raw
    $$,
    'writer upserts a newer version of a series'
);
select lives_ok(
    $$
        update kstore.markets set status = 'open', raw = '{"ticker": "KXTEST-1", "status": "open"}'
        where market_ticker = 'KXTEST-1'
    $$,
    'writer updates a market'
);

select throws_ok(
    $$delete from kstore.markets$$, '42501', null, 'writer cannot delete markets'
);
select throws_ok(
    $$truncate kstore.series$$, '42501', null, 'writer cannot truncate series'
);
select throws_ok(
    $$drop table kstore.events$$, '42501', null, 'writer cannot drop events'
);
select throws_ok(
    $$alter table kstore.markets add column note text$$, '42501', null,
    'writer cannot alter markets'
);
select throws_ok(
    $$create table kstore.scratch (id integer)$$, '42501', null,
    'writer cannot create tables in kstore'
);
select throws_ok(
    $$select * from ops.schema_migrations$$, '42501', null,
    'writer cannot read the migration history'
);

reset role;

-- ---------------------------------------------------------------- the reader, as behaviour

set local role kstore_gatherer_reader;

select results_eq(
    $$select series_ticker from kstore.series$$,
    $$values ('KXTEST')$$,
    'reader reads series'
);
select throws_ok(
    $$
        insert into kstore.markets (market_ticker, event_ticker, raw)
        values ('KXTEST-2', 'KXTEST-E', '{}')
    $$,
    '42501', null,
    'reader cannot insert markets'
);
select throws_ok(
    $$update kstore.series set title = 'x'$$, '42501', null, 'reader cannot update series'
);
select throws_ok(
    $$delete from kstore.events$$, '42501', null, 'reader cannot delete events'
);

reset role;

-- ---------------------------------------------------------------- the others

set local role kstore_maintainer;

select throws_ok(
    $$select * from kstore.markets$$, '42501', null, 'kstore_maintainer cannot read markets'
);

reset role;

select * from finish();  -- noqa: AM04
rollback;
