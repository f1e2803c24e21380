-- ops.keep_newest() on series, events and markets (DESIGN §3), in a gatherer's reference
-- database and in production: the row holds the newest version by exchange updated_time (by
-- observed_at when the exchange sends none). An older version never replaces a newer one, a
-- tie keeps the existing row, identical content changes nothing, and changed_at and changed_xid
-- (the deduplicator's cursor) move exactly when the row changes, changed_xid to the changing
-- transaction. Versions arrive through the writers' upserts (tap.deliver_*); production's
-- history of versions: production/test_reference_history.sql.

begin;
select plan(20);

select trigger_is(
    'kstore', 'series', 'series_keep_newest', 'ops', 'keep_newest',
    'series run ops.keep_newest()'
);
select trigger_is(
    'kstore', 'events', 'events_keep_newest', 'ops', 'keep_newest',
    'events run ops.keep_newest()'
);
select trigger_is(
    'kstore', 'markets', 'markets_keep_newest', 'ops', 'keep_newest',
    'markets run ops.keep_newest()'
);
select results_eq(
    $$
        select t.tgrelid::regclass::text, t.tgtype::integer
        from pg_trigger as t
        where t.tgfoid = 'ops.keep_newest'::regproc
        order by 1
    $$,
    $$values ('kstore.events', 23), ('kstore.markets', 23), ('kstore.series', 23)$$,
    'keep_newest fires before insert or update, for each row'
);

create temp table seen (
    label text primary key, changed_at timestamptz not null, changed_xid xid8 not null
);

-- ---------------------------------------------------------------- series, by updated_time

select tap.deliver_series('KXS', 'v2', '2030-01-02 00:00+00', '2030-01-05 00:00+00');

-- v2 as if an earlier transaction had written it (triggers are off while it is backdated), so
-- that a change made by this transaction shows in changed_xid.
set local session_replication_role = replica;
update kstore.series set changed_xid = (pg_current_xact_id()::text::numeric - 1)::text::xid8
where series_ticker = 'KXS';
set local session_replication_role = origin;

insert into seen (label, changed_at, changed_xid)
select
    'v2' as label,
    s.changed_at,
    s.changed_xid
from kstore.series as s
where s.series_ticker = 'KXS';

select tap.deliver_series('KXS', 'v1', '2030-01-01 00:00+00', '2030-01-06 00:00+00');

select results_eq(
    $$select title, updated_time from kstore.series where series_ticker = 'KXS'$$,
    $$values ('v2', '2030-01-02 00:00+00'::timestamptz)$$,
    'an older version (observed later) never replaces a newer one'
);

select tap.deliver_series('KXS', 'v2b', '2030-01-02 00:00+00', '2030-01-07 00:00+00');

select results_eq(
    $$select title from kstore.series where series_ticker = 'KXS'$$,
    $$values ('v2')$$,
    'a tie on updated_time keeps the existing row'
);

select tap.deliver_series('KXS', 'v0', null, '2030-01-08 00:00+00');

select results_eq(
    $$select title from kstore.series where series_ticker = 'KXS'$$,
    $$values ('v2')$$,
    'a version without updated_time never replaces one that has it'
);

select is(
    (
        select changed_at from kstore.series
        where series_ticker = 'KXS'
    ),
    (
        select changed_at from seen
        where label = 'v2'
    ),
    'changed_at did not move while every incoming version was refused'
);

select is(
    (
        select changed_xid from kstore.series
        where series_ticker = 'KXS'
    ),
    (
        select changed_xid from seen
        where label = 'v2'
    ),
    'changed_xid did not move either: refused versions are never pulled again'
);

update kstore.series set
    title = 'v1',
    updated_time = '2030-01-01 00:00+00',
    raw = '{"title": "v1"}'
where series_ticker = 'KXS';

select results_eq(
    $$select title from kstore.series where series_ticker = 'KXS'$$,
    $$values ('v2')$$,
    'a plain update to an older version is refused as well'
);

select tap.deliver_series('KXS', 'v3', '2030-01-03 00:00+00', '2030-01-04 00:00+00');

select results_eq(
    $$select title, updated_time, observed_at from kstore.series where series_ticker = 'KXS'$$,
    $$values ('v3', '2030-01-03 00:00+00'::timestamptz, '2030-01-04 00:00+00'::timestamptz)$$,
    'a newer version replaces the row, whatever order it was observed in'
);

select ok(
    (
        select changed_at from kstore.series
        where series_ticker = 'KXS'
    )
    > (
        select changed_at from seen
        where label = 'v2'
    ),
    'changed_at moves when a newer version is accepted'
);

select is(
    (
        select changed_xid from kstore.series
        where series_ticker = 'KXS'
    ),
    pg_current_xact_id(),
    'changed_xid becomes the id of the transaction that accepted the newer version'
);

insert into seen (label, changed_at, changed_xid)
select
    'v3' as label,
    s.changed_at,
    s.changed_xid
from kstore.series as s
where s.series_ticker = 'KXS';

update kstore.series set observed_at = '2030-02-01 00:00+00'
where series_ticker = 'KXS';

select results_eq(
    $$select observed_at, changed_at from kstore.series where series_ticker = 'KXS'$$,
    $$select '2030-01-04 00:00+00'::timestamptz, changed_at from seen where label = 'v3'$$,
    'identical content observed again changes nothing'
);

insert into kstore.series (series_ticker, raw, changed_at, changed_xid)
values ('KXOLD', '{}', '2000-01-01 00:00+00', '1');

select ok(
    (
        select changed_at from kstore.series
        where series_ticker = 'KXOLD'
    ) >= now(),
    'changed_at is stamped on insert, never taken from the writer'
);

select is(
    (
        select changed_xid from kstore.series
        where series_ticker = 'KXOLD'
    ),
    pg_current_xact_id(),
    'changed_xid is stamped on insert with the inserting transaction, never taken from the writer'
);

-- ---------------------------------------------------------------- events, by observed_at

select tap.deliver_event('KXE', 'e2', '2030-01-02 00:00+00');
select tap.deliver_event('KXE', 'e1', '2030-01-01 00:00+00');

select results_eq(
    $$select title from kstore.events where event_ticker = 'KXE'$$,
    $$values ('e2')$$,
    'without updated_time, a version observed earlier never replaces one observed later'
);

select tap.deliver_event('KXE', 'e3', '2030-01-03 00:00+00');

select results_eq(
    $$select title from kstore.events where event_ticker = 'KXE'$$,
    $$values ('e3')$$,
    'without updated_time, the version observed last wins'
);

-- ---------------------------------------------------------------- markets

select tap.deliver_market('KXM', 'initialized', null, '2030-01-05 00:00+00');
select tap.deliver_market('KXM', 'open', '2030-01-01 00:00+00', '2030-01-01 00:00+00');

select results_eq(
    $$select status from kstore.markets where market_ticker = 'KXM'$$,
    $$values ('open')$$,
    'a version with updated_time replaces one without it'
);

select tap.deliver_market('KXM', 'closed', '2029-12-31 00:00+00');

select results_eq(
    $$select status, updated_time from kstore.markets where market_ticker = 'KXM'$$,
    $$values ('open', '2030-01-01 00:00+00'::timestamptz)$$,
    'an older market version never replaces a newer one'
);

select * from finish();  -- noqa: AM04
rollback;
