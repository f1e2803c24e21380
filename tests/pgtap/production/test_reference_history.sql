-- Reference history in production (DESIGN §3, sql/production/ops_record_version.sql): every
-- distinct version of a series, event or market that reaches production, current or not, is
-- kept once in the append-only *_history table by ops.record_version(), which fires before
-- ops.keep_newest() (which version is current: reference/test_ops_keep_newest.sql).

begin;
select plan(11);

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

-- ---------------------------------------------------------------- series

-- The deduplicator's upserts of versions pulled from the gatherers: only v3 becomes current.
select tap.deliver_series('KXS', 'v2', '2030-01-02 00:00+00', '2030-01-05 00:00+00');
select tap.deliver_series('KXS', 'v1', '2030-01-01 00:00+00', '2030-01-06 00:00+00');
select tap.deliver_series('KXS', 'v2b', '2030-01-02 00:00+00', '2030-01-07 00:00+00');
select tap.deliver_series('KXS', 'v0', null, '2030-01-08 00:00+00');
select tap.deliver_series('KXS', 'v3', '2030-01-03 00:00+00', '2030-01-04 00:00+00');

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

select tap.deliver_series('KXS', 'v1', '2030-01-01 00:00+00', '2030-01-09 00:00+00');
select tap.deliver_series('KXS', 'v3', '2030-01-03 00:00+00', '2030-01-10 00:00+00');

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

select tap.deliver_event('KXE', 'e2', '2030-01-02 00:00+00');
select tap.deliver_event('KXE', 'e1', '2030-01-01 00:00+00');

select results_eq(
    $$
        select
            (select title from kstore.events where event_ticker = 'KXE'),
            (select count(*) from kstore.events_history where event_ticker = 'KXE')
    $$,
    $$values ('e2', 2::bigint)$$,
    'events: the version observed earlier stays history only'
);

select tap.deliver_market('KXM', 'open', '2030-01-02 00:00+00');
select tap.deliver_market('KXM', 'initialized', '2030-01-01 00:00+00');
select tap.deliver_market('KXM', 'closed', '2030-01-03 00:00+00');

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
