-- ops.keep_newest() on series, events and markets (DESIGN §3): the row holds the newest version
-- by exchange updated_time (by observed_at when the exchange sends none). An older version
-- never replaces a newer one, a tie keeps the existing row, identical content changes nothing,
-- and changed_at moves exactly when the row changes (pulls poll by it).

begin;
select plan(17);

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

-- The writer's upsert: the incoming version replaces the row only when it is newer.
create function pg_temp.deliver_series(
    ticker text, version_title text, version_updated timestamptz, version_observed timestamptz
)
returns void
language sql as $$
    insert into kstore.series as s (series_ticker, title, updated_time, observed_at, raw)
    values (
        ticker, version_title, version_updated, version_observed,
        jsonb_build_object('ticker', ticker, 'title', version_title, 'updated', version_updated)
    )
    on conflict (series_ticker) do update set
        title = excluded.title,
        updated_time = excluded.updated_time,
        observed_at = excluded.observed_at,
        raw = excluded.raw
$$;

create temp table seen (label text primary key, changed_at timestamptz not null);

-- ---------------------------------------------------------------- series, by updated_time

select pg_temp.deliver_series('KXS', 'v2', '2030-01-02 00:00+00', '2030-01-05 00:00+00');
insert into seen (label, changed_at)
select
    'v2' as label,
    s.changed_at
from kstore.series as s
where s.series_ticker = 'KXS';

select pg_temp.deliver_series('KXS', 'v1', '2030-01-01 00:00+00', '2030-01-06 00:00+00');

select results_eq(
    $$select title, updated_time from kstore.series where series_ticker = 'KXS'$$,
    $$values ('v2', '2030-01-02 00:00+00'::timestamptz)$$,
    'an older version (observed later) never replaces a newer one'
);

select pg_temp.deliver_series('KXS', 'v2b', '2030-01-02 00:00+00', '2030-01-07 00:00+00');

select results_eq(
    $$select title from kstore.series where series_ticker = 'KXS'$$,
    $$values ('v2')$$,
    'a tie on updated_time keeps the existing row'
);

select pg_temp.deliver_series('KXS', 'v0', null, '2030-01-08 00:00+00');

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

select pg_temp.deliver_series('KXS', 'v3', '2030-01-03 00:00+00', '2030-01-04 00:00+00');

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

insert into seen (label, changed_at)
select
    'v3' as label,
    s.changed_at
from kstore.series as s
where s.series_ticker = 'KXS';

update kstore.series set observed_at = '2030-02-01 00:00+00'
where series_ticker = 'KXS';

select results_eq(
    $$select observed_at, changed_at from kstore.series where series_ticker = 'KXS'$$,
    $$select '2030-01-04 00:00+00'::timestamptz, changed_at from seen where label = 'v3'$$,
    'identical content observed again changes nothing'
);

insert into kstore.series (series_ticker, raw, changed_at)
values ('KXOLD', '{}', '2000-01-01 00:00+00');

select ok(
    (
        select changed_at from kstore.series
        where series_ticker = 'KXOLD'
    ) >= now(),
    'changed_at is stamped on insert, never taken from the writer'
);

-- ---------------------------------------------------------------- events, by observed_at

insert into kstore.events (event_ticker, series_ticker, title, observed_at, raw)
values ('KXE', 'KXS', 'e2', '2030-01-02 00:00+00', '{"title": "e2"}');

insert into kstore.events as e (event_ticker, series_ticker, title, observed_at, raw)
values
('KXE', 'KXS', 'e1', '2030-01-01 00:00+00', '{"title": "e1"}')
on conflict (event_ticker) do update set
    title = excluded.title, observed_at = excluded.observed_at, raw = excluded.raw;

select results_eq(
    $$select title from kstore.events where event_ticker = 'KXE'$$,
    $$values ('e2')$$,
    'without updated_time, a version observed earlier never replaces one observed later'
);

insert into kstore.events as e (event_ticker, series_ticker, title, observed_at, raw)
values
('KXE', 'KXS', 'e3', '2030-01-03 00:00+00', '{"title": "e3"}')
on conflict (event_ticker) do update set
    title = excluded.title, observed_at = excluded.observed_at, raw = excluded.raw;

select results_eq(
    $$select title from kstore.events where event_ticker = 'KXE'$$,
    $$values ('e3')$$,
    'without updated_time, the version observed last wins'
);

-- ---------------------------------------------------------------- markets

insert into kstore.markets (market_ticker, event_ticker, status, observed_at, raw)
values ('KXM', 'KXE', 'initialized', '2030-01-05 00:00+00', '{"status": "initialized"}');

insert into kstore.markets as m (
    market_ticker, event_ticker, status, updated_time, observed_at, raw
)
values
(
    'KXM', 'KXE', 'open', '2030-01-01 00:00+00', '2030-01-01 00:00+00',
    '{"status": "open"}'
)
on conflict (market_ticker) do update set
    status = excluded.status,
    updated_time = excluded.updated_time,
    observed_at = excluded.observed_at,
    raw = excluded.raw;

select results_eq(
    $$select status from kstore.markets where market_ticker = 'KXM'$$,
    $$values ('open')$$,
    'a version with updated_time replaces one without it'
);

insert into kstore.markets as m (market_ticker, event_ticker, status, updated_time, raw)
values
('KXM', 'KXE', 'closed', '2029-12-31 00:00+00', '{"status": "closed"}')
on conflict (market_ticker) do update set
    status = excluded.status,
    updated_time = excluded.updated_time,
    observed_at = excluded.observed_at,
    raw = excluded.raw;

select results_eq(
    $$select status, updated_time from kstore.markets where market_ticker = 'KXM'$$,
    $$values ('open', '2030-01-01 00:00+00'::timestamptz)$$,
    'an older market version never replaces a newer one'
);

select * from finish();  -- noqa: AM04
rollback;
