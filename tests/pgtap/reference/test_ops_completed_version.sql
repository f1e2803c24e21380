-- Lifecycle versions (decision 0024) under ops.keep_newest(), in a gatherer's reference database
-- and in production: a frame's version (version_source 'ws', updated_time = its receive time)
-- replaces an older REST version on the columns it sets; an older REST version only completes
-- it (fills empty columns, adds missing raw fields) and never changes what the frame set; a
-- newer REST version replaces it; a frame older than the current REST version changes nothing.
-- Versions arrive as the registry writes them (REST: a full upsert; a frame: its columns only).

begin;
select plan(7);

create temp table rest_version (
    status text, title text, market_type text, updated_time timestamptz, raw jsonb
);

-- A REST answer as the registry upserts it: every REST column, version_source 'rest'.
create function pg_temp.deliver_rest() returns void
language sql as $$
    insert into kstore.markets as m (
        market_ticker, event_ticker, status, title, market_type, updated_time, raw,
        version_source
    )
    select 'KXL-1', 'KXE', v.status, v.title, v.market_type, v.updated_time, v.raw, 'rest'
    from rest_version as v
    on conflict (market_ticker) do update set
        status = excluded.status,
        title = excluded.title,
        market_type = excluded.market_type,
        updated_time = excluded.updated_time,
        raw = excluded.raw,
        version_source = excluded.version_source
$$;

insert into rest_version values (
    'active', 'REST v1', null, '2030-01-01 00:00+00',
    '{"ticker": "KXL-1", "status": "active", "title": "REST v1"}'
);
select pg_temp.deliver_rest();

-- a determined frame received at 2030-01-02: its columns only, its fields merged into raw
update kstore.markets as m set
    status = 'determined',
    result = 'yes',
    updated_time = '2030-01-02 00:00+00',
    version_source = 'ws',
    raw = m.raw || '{"status": "determined", "result": "yes"}'
where m.market_ticker = 'KXL-1';

select results_eq(
    $$
        select status, result, title, version_source, raw ->> 'status'
        from kstore.markets where market_ticker = 'KXL-1'
    $$,
    $$values ('determined', 'yes', 'REST v1', 'ws', 'determined')$$,
    'a newer frame sets its columns and raw fields and keeps the rest of the row'
);

-- REST answers with a version older than the frame (still active), which knows more fields
truncate rest_version;
insert into rest_version values (
    'active', 'REST v1b', 'binary', '2030-01-01 12:00+00',
    '{"ticker": "KXL-1", "status": "active", "title": "REST v1b", "price_ranges": []}'
);
select pg_temp.deliver_rest();

select results_eq(
    $$
        select status, result, title, market_type, version_source, updated_time
        from kstore.markets where market_ticker = 'KXL-1'
    $$,
    $$values ('determined', 'yes', 'REST v1', 'binary', 'ws', '2030-01-02 00:00+00'::timestamptz)$$,
    'an older REST version fills empty columns and changes nothing the frame version holds'
);

select results_eq(
    $$
        select raw ->> 'status', raw ->> 'title', raw ? 'price_ranges'
        from kstore.markets where market_ticker = 'KXL-1'
    $$,
    $$values ('determined', 'REST v1', true)$$,
    'an older REST version adds the raw fields the frame version lacks, never replaces one'
);

create temp table seen as
select changed_at from kstore.markets
where market_ticker = 'KXL-1';
select pg_temp.deliver_rest();

select is(
    (
        select changed_at from kstore.markets
        where market_ticker = 'KXL-1'
    ),
    (select changed_at from seen),
    'an older version with nothing to complete is no change (changed_at stays)'
);

-- REST catches up: a version newer than the frame replaces it
truncate rest_version;
insert into rest_version values (
    'finalized', 'REST v3', 'binary', '2030-01-03 00:00+00',
    '{"ticker": "KXL-1", "status": "finalized", "title": "REST v3"}'
);
select pg_temp.deliver_rest();

select results_eq(
    $$
        select status, title, version_source, raw ->> 'title'
        from kstore.markets where market_ticker = 'KXL-1'
    $$,
    $$values ('finalized', 'REST v3', 'rest', 'REST v3')$$,
    'a REST version newer than the frame replaces it'
);

-- a frame received before that REST version (a late pull of another gatherer's copy)
update kstore.markets as m set
    status = 'inactive',
    updated_time = '2030-01-02 12:00+00',
    version_source = 'ws',
    raw = m.raw || '{"status": "inactive"}'
where m.market_ticker = 'KXL-1';

select results_eq(
    $$select status, version_source from kstore.markets where market_ticker = 'KXL-1'$$,
    $$values ('finalized', 'rest')$$,
    'a frame older than the current REST version changes nothing'
);

select function_returns(
    'ops', 'completed_version', array['anyelement', 'anyelement'], 'anyelement',
    'ops.completed_version(current, older) returns a row of the same table'
);

select * from finish();  -- noqa: AM04
rollback;
