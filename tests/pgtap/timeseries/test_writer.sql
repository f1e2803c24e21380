-- The writer of the time-series tables in every time-series database (DESIGN §7): a gatherer's
-- writer, production's deduplicator (tap.writer_role()). It inserts rows into the four tables
-- (`on conflict do nothing`) and reads them, and can never rewrite, delete, truncate, drop or
-- alter them, nor create tables. Its other privileges differ per tier: <kind>/test_roles.sql.

begin;
select plan(11);

select set_config('role', tap.writer_role(), true);

select lives_ok(
    $$
        insert into kstore.trades (
            trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id
        )
        values (gen_random_uuid(), now(), 'KXTEST-1', 0.42, 0.58, 1, 'g1')
        on conflict do nothing
    $$,
    'the writer inserts trades'
);
select lives_ok(
    $$
        insert into kstore.orderbook_deltas (
            market_ticker, ts, side, price, delta, use_yes_price, gatherer_id
        )
        values ('KXTEST-1', now(), 'yes', 0.42, 10, true, 'g1')
        on conflict do nothing
    $$,
    'the writer inserts orderbook_deltas'
);
select lives_ok(
    $$
        insert into kstore.orderbook_snapshots (
            market_ticker, captured_at, gatherer_id, source, use_yes_price
        )
        values ('KXTEST-1', now(), 'g1', 'rest', true)
        on conflict do nothing
    $$,
    'the writer inserts orderbook_snapshots'
);
select lives_ok(
    $$
        insert into kstore.tickers (market_ticker, ts, fingerprint, gatherer_id)
        values ('KXTEST-1', now(), 1, 'g1')
        on conflict do nothing
    $$,
    'the writer inserts tickers'
);
select results_eq(
    $$select count(*) from kstore.trades$$,
    $$values (1::bigint)$$,
    'the writer reads its own rows'
);
select throws_ok(
    $$update kstore.trades set count = 2$$, '42501', null, 'the writer cannot update trades'
);
select throws_ok(
    $$delete from kstore.trades$$, '42501', null, 'the writer cannot delete trades'
);
select throws_ok(
    $$truncate kstore.trades$$, '42501', null, 'the writer cannot truncate trades'
);
select throws_ok(
    $$drop table kstore.trades$$, '42501', null, 'the writer cannot drop trades'
);
select throws_ok(
    $$alter table kstore.trades add column note text$$, '42501', null,
    'the writer cannot alter trades'
);
select throws_ok(
    $$create table kstore.scratch (id integer)$$, '42501', null,
    'the writer cannot create tables in kstore'
);

reset role;

select * from finish();  -- noqa: AM04
rollback;
