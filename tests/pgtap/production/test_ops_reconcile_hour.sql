-- ops.reconcile_hour (sql/production/ops_reconcile_hour.sql, decision 0066), as kstore_dedup:
-- one hour of the exchange's record against production by trade_id. Production holds trades
-- 1 (same ts), 2 (stored twice under two ts), 4 (not on the exchange) and 5 (the previous
-- hour: not counted); the exchange lists 1, 2, 3 and 6 (fetched, but in the next hour).
-- Missing is 3; a second check replaces the first; ops.reconciliation_summary adds them up.

begin;
select plan(7);

insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id)
values
('00000000-0000-4000-8000-000000000001', '2030-01-01 10:05:00+00', 'KXA', 0.5, 0.5, 1, 'g1'),
('00000000-0000-4000-8000-000000000002', '2030-01-01 10:06:00+00', 'KXA', 0.5, 0.5, 1, 'g1'),
('00000000-0000-4000-8000-000000000002', '2030-01-01 10:06:00.001+00', 'KXA', 0.5, 0.5, 1, 'g2'),
('00000000-0000-4000-8000-000000000004', '2030-01-01 10:07:00+00', 'KXB', 0.5, 0.5, 1, 'g1'),
('00000000-0000-4000-8000-000000000005', '2030-01-01 09:59:59.999+00', 'KXB', 0.5, 0.5, 1, 'g1');

insert into ops.reconciliation_runs (since, until)
values ('2030-01-01 10:00+00', '2030-01-01 11:00+00');

create function pg_temp.check(markets text[] default null)
returns setof uuid
language sql as $$
    select trade_id from ops.reconcile_hour(
        (select max(run_id) from ops.reconciliation_runs), '2030-01-01 10:00+00',
        array[
            '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002',
            '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000006'
        ]::uuid[],
        array[
            '2030-01-01 10:05:00+00', '2030-01-01 10:06:00+00', '2030-01-01 10:30:00+00',
            '2030-01-01 11:00:00+00'
        ]::timestamptz[],
        array['KXA', 'KXA', 'KXB', 'KXB'],
        markets
    )
$$;

set local role kstore_dedup;

select results_eq(
    $$select * from pg_temp.check()$$,
    $$values ('00000000-0000-4000-8000-000000000003'::uuid)$$,
    'the exchange trade production lacks is returned'
);
select results_eq(
    $$
        select market_ticker, exchange_trades, production_trades, missing, unexpected, duplicated
        from ops.reconciliation order by market_ticker
    $$,
    $$values ('KXA', 2, 3, 0, 0, 1), ('KXB', 1, 1, 1, 1, 0)$$,
    'per market: on the exchange, in production, missing, unexpected, duplicated'
);

select results_eq(
    $$select count(*)::integer from pg_temp.check()$$,
    $$values (1)$$,
    'checking again returns the same'
);
select results_eq(
    $$select count(*)::integer from ops.reconciliation$$,
    $$values (2)$$,
    'a check replaces the rows of its hour'
);

select results_eq(
    $$select count(*)::integer from pg_temp.check(array['KXA'])$$,
    $$values (0)$$,
    'a check of some markets looks at those only'
);
select results_eq(
    $$select market_ticker, missing from ops.reconciliation order by market_ticker$$,
    $$values ('KXA', 0), ('KXB', 1)$$,
    'and replaces only their rows'
);

select results_eq(
    $$
        select day, hours_checked, exchange_trades, production_trades, missing, complete
        from ops.reconciliation_summary
    $$,
    $$values ('2030-01-01'::date, 1::bigint, 3::bigint, 4::bigint, 1::bigint, false)$$,
    'the summary adds up the day'
);

select * from finish();  -- noqa: AM04
rollback;
