-- The four time-series tables (trades, orderbook_deltas, orderbook_snapshots, tickers), the same
-- in a gatherer's time-series database and in production: every column with its exact type,
-- nullability and default (prices numeric(10,6), sizes numeric(18,2), times timestamptz, xact_id
-- the inserting transaction: the deduplicator's cursor), identical on both storage paths, and
-- the check constraints that keep rows valid. Production adds merged_at to each
-- (production/test_tables.sql); a gatherer has no such column (gatherer_ts/test_tables.sql).

begin;
select plan(16);

-- ---------------------------------------------------------------- columns

select results_eq(
    $$
        select * from tap.columns_of('kstore.trades')
        where column_name <> 'merged_at'
    $$,
    $$
        values
            ('trade_id', 'uuid', true, null),
            ('ts', 'timestamp with time zone', true, null),
            ('market_ticker', 'text', true, null),
            ('yes_price', 'numeric(10,6)', true, null),
            ('no_price', 'numeric(10,6)', true, null),
            ('count', 'numeric(18,2)', true, null),
            ('taker_outcome_side', 'text', false, null),
            ('taker_book_side', 'text', false, null),
            ('is_block_trade', 'boolean', true, 'false'),
            ('sending_ts', 'timestamp with time zone', false, null),
            ('received_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('gatherer_id', 'text', true, null),
            ('xact_id', 'xid8', true, 'pg_current_xact_id()'),
            ('source', 'text', true, '''ws''::text')
    $$,
    'kstore.trades: columns, exact types, not-null and defaults'
);

select results_eq(
    $$
        select * from tap.columns_of('kstore.orderbook_deltas')
        where column_name <> 'merged_at'
    $$,
    $$
        values
            ('market_ticker', 'text', true, null),
            ('ts', 'timestamp with time zone', true, null),
            ('side', 'text', true, null),
            ('price', 'numeric(10,6)', true, null),
            ('delta', 'numeric(18,2)', true, null),
            ('dup_ordinal', 'integer', true, '0'),
            ('key_scope', 'text', true, '''''::text'),
            ('use_yes_price', 'boolean', true, null),
            ('sid', 'integer', false, null),
            ('seq', 'bigint', false, null),
            ('connection_id', 'text', false, null),
            ('sending_ts', 'timestamp with time zone', false, null),
            ('received_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('gatherer_id', 'text', true, null),
            ('xact_id', 'xid8', true, 'pg_current_xact_id()')
    $$,
    'kstore.orderbook_deltas: columns, exact types, not-null and defaults'
);

select results_eq(
    $$
        select * from tap.columns_of('kstore.orderbook_snapshots')
        where column_name <> 'merged_at'
    $$,
    $$
        values
            ('market_ticker', 'text', true, null),
            ('captured_at', 'timestamp with time zone', true, null),
            ('gatherer_id', 'text', true, null),
            ('source', 'text', true, null),
            ('yes_prices', 'numeric(10,6)[]', true, '''{}''::numeric[]'),
            ('yes_sizes', 'numeric(18,2)[]', true, '''{}''::numeric[]'),
            ('no_prices', 'numeric(10,6)[]', true, '''{}''::numeric[]'),
            ('no_sizes', 'numeric(18,2)[]', true, '''{}''::numeric[]'),
            ('use_yes_price', 'boolean', true, null),
            ('sid', 'integer', false, null),
            ('seq', 'bigint', false, null),
            ('connection_id', 'text', false, null),
            ('received_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('xact_id', 'xid8', true, 'pg_current_xact_id()')
    $$,
    'kstore.orderbook_snapshots: columns, exact types, not-null and defaults'
);

select results_eq(
    $$
        select * from tap.columns_of('kstore.tickers')
        where column_name <> 'merged_at'
    $$,
    $$
        values
            ('market_ticker', 'text', true, null),
            ('ts', 'timestamp with time zone', true, null),
            ('fingerprint', 'bigint', true, null),
            ('price', 'numeric(10,6)', false, null),
            ('yes_bid', 'numeric(10,6)', false, null),
            ('yes_ask', 'numeric(10,6)', false, null),
            ('yes_bid_size', 'numeric(18,2)', false, null),
            ('yes_ask_size', 'numeric(18,2)', false, null),
            ('last_trade_size', 'numeric(18,2)', false, null),
            ('volume', 'numeric(18,2)', false, null),
            ('open_interest', 'numeric(18,2)', false, null),
            ('dollar_volume', 'bigint', false, null),
            ('dollar_open_interest', 'bigint', false, null),
            ('sending_ts', 'timestamp with time zone', false, null),
            ('received_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('gatherer_id', 'text', true, null),
            ('xact_id', 'xid8', true, 'pg_current_xact_id()')
    $$,
    'kstore.tickers: columns, exact types, not-null and defaults'
);

-- ---------------------------------------------------------------- exact values, valid rows only

insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id)
values (
    'a0000000-0000-0000-0000-000000000001', now(), 'KXTEST-1', '0.123456', '0.876544', '2.5',
    'g1'
);

select results_eq(
    $$
        select yes_price::text, no_price::text, count::text, is_block_trade
        from kstore.trades
        where trade_id = 'a0000000-0000-0000-0000-000000000001'
    $$,
    $$values ('0.123456', '0.876544', '2.50', false)$$,
    'prices and sizes read back exactly, at their declared scale'
);

select is(
    (
        select xact_id from kstore.trades
        where trade_id = 'a0000000-0000-0000-0000-000000000001'
    ),
    pg_current_xact_id(),
    'a row records the id of the transaction that inserted it'
);

select throws_ok(
    $$
        insert into kstore.trades (
            trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id
        )
        values (gen_random_uuid(), now(), 'KXTEST-1', 1.5, 0.5, 1, 'g1')
    $$,
    '23514', null,
    'a trade price above 1 dollar is rejected'
);

select throws_ok(
    $$
        insert into kstore.trades (
            trade_id, ts, market_ticker, yes_price, no_price, count, gatherer_id
        )
        values (gen_random_uuid(), now(), 'KXTEST-1', 0.5, 0.5, 0, 'g1')
    $$,
    '23514', null,
    'a trade of zero contracts is rejected'
);

select throws_ok(
    $$
        insert into kstore.trades (
            trade_id, ts, market_ticker, yes_price, no_price, count, taker_outcome_side, gatherer_id
        )
        values (gen_random_uuid(), now(), 'KXTEST-1', 0.5, 0.5, 1, 'maybe', 'g1')
    $$,
    '23514', null,
    'taker_outcome_side is yes or no'
);

select throws_ok(
    $$
        insert into kstore.trades (trade_id, ts, market_ticker, yes_price, no_price, count)
        values (gen_random_uuid(), now(), 'KXTEST-1', 0.5, 0.5, 1)
    $$,
    '23502', null,
    'a trade without gatherer_id is rejected'
);

select throws_ok(
    $$
        insert into kstore.orderbook_deltas (
            market_ticker, ts, side, price, delta, use_yes_price, gatherer_id
        )
        values ('KXTEST-1', now(), 'up', 0.5, 10, true, 'g1')
    $$,
    '23514', null,
    'a delta side is yes or no'
);

select throws_ok(
    $$
        insert into kstore.orderbook_deltas (
            market_ticker, ts, side, price, delta, use_yes_price, gatherer_id
        )
        values ('KXTEST-1', now(), 'yes', 0.5, 0, true, 'g1')
    $$,
    '23514', null,
    'a zero delta is rejected'
);

select throws_ok(
    $$
        insert into kstore.orderbook_deltas (
            market_ticker, ts, side, price, delta, dup_ordinal, use_yes_price, gatherer_id
        )
        values ('KXTEST-1', now(), 'yes', 0.5, 1, -1, true, 'g1')
    $$,
    '23514', null,
    'dup_ordinal is never negative'
);

select throws_ok(
    $$
        insert into kstore.orderbook_deltas (market_ticker, ts, side, price, delta, gatherer_id)
        values ('KXTEST-1', now(), 'yes', 0.5, 1, 'g1')
    $$,
    '23502', null,
    'a delta must record use_yes_price'
);

select throws_ok(
    $$
        insert into kstore.orderbook_snapshots (
            market_ticker, captured_at, gatherer_id, source, use_yes_price
        )
        values ('KXTEST-1', now(), 'g1', 'fix', true)
    $$,
    '23514', null,
    'a snapshot source is ws or rest'
);

select throws_ok(
    $$
        insert into kstore.orderbook_snapshots (
            market_ticker, captured_at, gatherer_id, source, yes_prices, yes_sizes, use_yes_price
        )
        values ('KXTEST-1', now(), 'g1', 'rest', '{0.4,0.5}', '{10}', true)
    $$,
    '23514', null,
    'snapshot price and size arrays have the same length'
);

select * from finish();  -- noqa: AM04
rollback;
