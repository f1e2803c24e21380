-- Reference versions in production (DESIGN §3): series, events and markets hold the newest
-- version by exchange updated_time (by observed_at when the exchange sends none) through
-- ops.keep_newest(); an older version never replaces a newer one and a tie keeps the existing
-- row. Every distinct version that reaches production, current or not, is kept once in the
-- append-only *_history table by ops.record_version(), which fires first.

begin;
select plan(19);

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
select trigger_is(
    'kstore', 'series', 'series_history_version', 'ops', 'record_version',
    'series run ops.record_version()'
);
select trigger_is(
    'kstore', 'events', 'events_history_version', 'ops', 'record_version',
    'events run ops.record_version()'
);
select trigger_is(
    'kstore', 'markets', 'markets_history_version', 'ops', 'record_version',
    'markets run ops.record_version()'
);
select results_eq(
    $$
        select t.tgrelid::regclass::text, t.tgname::text collate "default", t.tgtype::integer
        from pg_trigger as t
        where not t.tgisinternal
            and t.tgrelid in (
                'kstore.series'::regclass, 'kstore.events'::regclass, 'kstore.markets'::regclass
            )
        order by t.tgrelid::regclass::text, t.tgname
    $$,
    $$
        values
            ('kstore.events', 'events_history_version', 23),
            ('kstore.events', 'events_keep_newest', 23),
            ('kstore.markets', 'markets_history_version', 23),
            ('kstore.markets', 'markets_keep_newest', 23),
            ('kstore.series', 'series_history_version', 23),
            ('kstore.series', 'series_keep_newest', 23)
    $$,
    'both fire before insert or update for each row, history first (triggers fire by name)'
);

-- The deduplicator's upsert of one version pulled from a gatherer.
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

-- ---------------------------------------------------------------- series

select pg_temp.deliver_series('KXS', 'v2', '2030-01-02 00:00+00', '2030-01-05 00:00+00');
insert into seen (label, changed_at)
select
    'v2' as label,
    s.changed_at
from kstore.series as s
where s.series_ticker = 'KXS';

select pg_temp.deliver_series('KXS', 'v1', '2030-01-01 00:00+00', '2030-01-06 00:00+00');

select results_eq(
    $$select title from kstore.series where series_ticker = 'KXS'$$,
    $$values ('v2')$$,
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

select pg_temp.deliver_series('KXS', 'v3', '2030-01-03 00:00+00', '2030-01-04 00:00+00');

select results_eq(
    $$select title, updated_time from kstore.series where series_ticker = 'KXS'$$,
    $$values ('v3', '2030-01-03 00:00+00'::timestamptz)$$,
    'a newer version replaces the row'
);

select results_eq(
    $$
        select raw ->> 'title', updated_time, observed_at
        from kstore.series_history
        where series_ticker = 'KXS'
        order by observed_at
    $$,
    $$
        values
            ('v3', '2030-01-03 00:00+00'::timestamptz, '2030-01-04 00:00+00'::timestamptz),
            ('v2', '2030-01-02 00:00+00'::timestamptz, '2030-01-05 00:00+00'::timestamptz),
            ('v1', '2030-01-01 00:00+00'::timestamptz, '2030-01-06 00:00+00'::timestamptz),
            ('v2b', '2030-01-02 00:00+00'::timestamptz, '2030-01-07 00:00+00'::timestamptz),
            ('v0', null, '2030-01-08 00:00+00'::timestamptz)
    $$,
    'every distinct version delivered is in series_history, refused ones included'
);

select pg_temp.deliver_series('KXS', 'v1', '2030-01-01 00:00+00', '2030-01-09 00:00+00');
select pg_temp.deliver_series('KXS', 'v3', '2030-01-03 00:00+00', '2030-01-10 00:00+00');

select results_eq(
    $$select count(*), count(distinct content_hash) from kstore.series_history$$,
    $$values (5::bigint, 5::bigint)$$,
    'a version delivered again (by another gatherer) is recorded once'
);

select is_empty(
    $$select series_ticker from kstore.series_history where content_hash <> md5(raw::text)$$,
    'history content_hash is md5 of raw, as the current rows compute it'
);

select results_eq(
    $$
        select h.raw ->> 'title'
        from kstore.series as s
        inner join kstore.series_history as h
            on s.series_ticker = h.series_ticker and s.content_hash = h.content_hash
    $$,
    $$values ('v3')$$,
    'the current row is one of the recorded versions'
);

-- ---------------------------------------------------------------- events and markets

insert into kstore.events (event_ticker, series_ticker, title, observed_at, raw)
values ('KXE', 'KXS', 'e2', '2030-01-02 00:00+00', '{"title": "e2"}');

insert into kstore.events as e (event_ticker, series_ticker, title, observed_at, raw)
values ('KXE', 'KXS', 'e1', '2030-01-01 00:00+00', '{"title": "e1"}')
on conflict (event_ticker) do update set
    title = excluded.title, observed_at = excluded.observed_at, raw = excluded.raw;

select results_eq(
    $$
        select
            (select title from kstore.events where event_ticker = 'KXE'),
            (select count(*) from kstore.events_history where event_ticker = 'KXE')
    $$,
    $$values ('e2', 2::bigint)$$,
    'events: the version observed earlier stays history only'
);

insert into kstore.markets (market_ticker, event_ticker, status, updated_time, raw)
values ('KXM', 'KXE', 'open', '2030-01-02 00:00+00', '{"status": "open"}');

insert into kstore.markets as m (market_ticker, event_ticker, status, updated_time, raw)
values ('KXM', 'KXE', 'initialized', '2030-01-01 00:00+00', '{"status": "initialized"}')
on conflict (market_ticker) do update set
    status = excluded.status,
    updated_time = excluded.updated_time,
    observed_at = excluded.observed_at,
    raw = excluded.raw;

insert into kstore.markets as m (market_ticker, event_ticker, status, updated_time, raw)
values ('KXM', 'KXE', 'closed', '2030-01-03 00:00+00', '{"status": "closed"}')
on conflict (market_ticker) do update set
    status = excluded.status,
    updated_time = excluded.updated_time,
    observed_at = excluded.observed_at,
    raw = excluded.raw;

select results_eq(
    $$select status from kstore.markets where market_ticker = 'KXM'$$,
    $$values ('closed')$$,
    'markets: the newest version by updated_time is current'
);

select results_eq(
    $$
        select raw ->> 'status', updated_time
        from kstore.markets_history
        where market_ticker = 'KXM'
        order by updated_time
    $$,
    $$
        values
            ('initialized', '2030-01-01 00:00+00'::timestamptz),
            ('open', '2030-01-02 00:00+00'::timestamptz),
            ('closed', '2030-01-03 00:00+00'::timestamptz)
    $$,
    'markets_history holds every version, in exchange time order'
);

select * from finish();  -- noqa: AM04
rollback;
