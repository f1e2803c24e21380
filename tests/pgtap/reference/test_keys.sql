-- Keys of reference data, the same in a gatherer's reference database and in production:
-- series, events and markets are keyed by their ticker (one current row each), with the
-- indexes that pulls (changed_xid: the deduplicator's cursor; changed_at) and lookups use.

begin;
select plan(14);

select col_is_pk('kstore', 'series', array['series_ticker'], 'series are keyed by series_ticker');
select col_is_pk('kstore', 'events', array['event_ticker'], 'events are keyed by event_ticker');
select col_is_pk(
    'kstore', 'markets', array['market_ticker'], 'markets are keyed by market_ticker'
);

select has_index(
    'kstore', 'series', 'series_changed_at_idx', array['changed_at'],
    'series are indexed by changed_at (pulls poll by it)'
);
select has_index(
    'kstore', 'series', 'series_changed_xid_idx', array['changed_xid'],
    'series are indexed by changed_xid (dedup pulls by transaction id)'
);
select has_index(
    'kstore', 'events', 'events_changed_at_idx', array['changed_at'],
    'events are indexed by changed_at (pulls poll by it)'
);
select has_index(
    'kstore', 'events', 'events_changed_xid_idx', array['changed_xid'],
    'events are indexed by changed_xid (dedup pulls by transaction id)'
);
select has_index(
    'kstore', 'events', 'events_series_ticker_idx', array['series_ticker'],
    'events are indexed by series_ticker'
);
select has_index(
    'kstore', 'markets', 'markets_changed_at_idx', array['changed_at'],
    'markets are indexed by changed_at (pulls poll by it)'
);
select has_index(
    'kstore', 'markets', 'markets_changed_xid_idx', array['changed_xid'],
    'markets are indexed by changed_xid (dedup pulls by transaction id)'
);
select has_index(
    'kstore', 'markets', 'markets_event_ticker_idx', array['event_ticker'],
    'markets are indexed by event_ticker'
);
select has_index(
    'kstore', 'markets', 'markets_status_idx', array['status'],
    'markets are indexed by status'
);

insert into kstore.markets (market_ticker, event_ticker, raw)
values ('KXTEST-1', 'KXTEST', '{"ticker": "KXTEST-1"}');

select throws_ok(
    $$
        insert into kstore.markets (market_ticker, event_ticker, raw)
        values ('KXTEST-1', 'KXTEST', '{"ticker": "KXTEST-1", "status": "open"}')
    $$,
    '23505', null,
    'a second row for the same market ticker is refused'
);

insert into kstore.markets (market_ticker, event_ticker, raw)
values ('KXTEST-1', 'KXTEST', '{"ticker": "KXTEST-1", "status": "open"}')
on conflict do nothing;

select results_eq(
    $$select count(*), min(raw ->> 'status') from kstore.markets$$,
    $$values (1::bigint, null::text)$$,
    'one row per market; on conflict do nothing keeps the existing row'
);

select * from finish();  -- noqa: AM04
rollback;
