-- ops.maintain() in every time-series database (DESIGN §4), whatever guards its retention
-- (the tier's ops.retention_safe(), tested in its own folder): kstore_maintainer runs it and
-- reaches the tables only through it; on TimescaleDB, chunks past their table's
-- compress_after are compressed, younger ones are not, and compressed rows stay readable and
-- keyed. Delays come from ops.table_policies, so the same checks hold for every tier.

begin;
select plan(11);
set local client_min_messages = warning;

select function_privs_are(
    'ops', 'maintain', array['timestamp with time zone'], 'kstore_maintainer', array['EXECUTE'],
    'kstore_maintainer may execute ops.maintain()'
);
select is_definer(
    'ops', 'maintain', array['timestamp with time zone'],
    'ops.maintain() runs as its owner, so the maintainer needs no table privileges'
);

-- A trade and a ticker one day past their compress_after (well inside any retention horizon),
-- and a ticker of now.
insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id)
select
    gen_random_uuid() as trade_id,
    now() - tp.compress_after - interval '1 day' as ts,
    'KXTEST-1' as market_ticker,
    0.42 as yes_price,
    0.58 as no_price,
    1 as count,
    'g1' as gatherer_id
from ops.table_policies as tp
where tp.table_name = 'kstore.trades'::regclass;

insert into kstore.tickers (market_ticker, ts, fingerprint, gatherer_id)
select
    'KXTEST-1' as market_ticker,
    now() - tp.compress_after - interval '1 day' as ts,
    1 as fingerprint,
    'g1' as gatherer_id
from ops.table_policies as tp
where tp.table_name = 'kstore.tickers'::regclass;

insert into kstore.tickers (market_ticker, ts, fingerprint, gatherer_id)
values ('KXTEST-1', now(), 2, 'g1');

-- ---------------------------------------------------------------- as kstore_maintainer

set local role kstore_maintainer;

select lives_ok(
    $$select * from ops.maintain()$$, 'kstore_maintainer runs ops.maintain()'
);
select throws_ok(
    $$select * from kstore.trades$$, '42501', null, 'kstore_maintainer cannot read trades'
);
select throws_ok(
    $$update ops.table_policies set retain_for = '1 day'$$, '42501', null,
    'kstore_maintainer cannot change the retention policy'
);

reset role;

-- ---------------------------------------------------------------- compression (TimescaleDB)

select
    case
        when ops.storage_path() = 'timescaledb'
            then collect_tap(
                results_eq(
                    $$
                        select p.table_name::text, p.is_compressed
                        from ops.partitions() as p
                        inner join ops.table_policies as tp on p.table_name = tp.table_name
                        where p.range_end <= now() - tp.compress_after
                        order by 1
                    $$,
                    $$values ('kstore.tickers', true), ('kstore.trades', true)$$,
                    'chunks past their table''s compress_after were compressed'
                ),
                results_eq(
                    $$select fingerprint from kstore.tickers order by fingerprint$$,
                    $$values (1::bigint), (2::bigint)$$,
                    'compressed rows stay readable'
                ),
                is_empty(
                    $$
                        select p.partition_name
                        from ops.partitions() as p
                        inner join ops.table_policies as tp on p.table_name = tp.table_name
                        where p.is_compressed and p.range_end > now() - tp.compress_after
                    $$,
                    'chunks younger than compress_after are not compressed'
                )
            )
        else skip('TimescaleDB path only: plain PostgreSQL has no compression', 3)
    end;

-- ---------------------------------------------------------------- old days stay keyed

-- As the writer of this database (a gatherer's writer, production's deduplicator).
select set_config('role', tap.writer_role(), true);

select lives_ok(
    $$
        insert into kstore.trades (
            trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id
        )
        select trade_id, ts, market_ticker, yes_price, no_price, count, 'g2'
        from kstore.trades
        on conflict do nothing
    $$,
    'the writer re-sends a trade of a day already compressed (TimescaleDB) or partitioned'
);
select lives_ok(
    $$
        insert into kstore.tickers (market_ticker, ts, fingerprint, gatherer_id)
        select market_ticker, ts, fingerprint, 'g2'
        from kstore.tickers
        where fingerprint = 1
        on conflict do nothing
    $$,
    'the writer re-sends a ticker of a day already compressed (TimescaleDB) or partitioned'
);

reset role;

select results_eq(
    $$
        select
            (select count(*) from kstore.trades),
            (select count(*) from kstore.tickers where fingerprint = 1)
    $$,
    $$values (1::bigint, 1::bigint)$$,
    'the dedup keys still hold on an old (compressed) day: one trade, one ticker'
);

select * from finish();  -- noqa: AM04
rollback;
