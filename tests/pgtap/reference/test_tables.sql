-- Tables of reference data, the same in a gatherer's reference database and in production:
-- series, events and markets are ordinary tables on every storage path (small and mutable),
-- every column with its exact type, nullability and default (prices numeric(10,6), sizes
-- numeric(18,2), times timestamptz), the raw payload kept as jsonb and its content hash
-- generated from it, and changed_xid, the transaction that last changed the row.

begin;
select plan(9);

select isnt_partitioned('kstore', 'series', 'series is an ordinary table');
select isnt_partitioned('kstore', 'events', 'events is an ordinary table');
select isnt_partitioned('kstore', 'markets', 'markets is an ordinary table');

-- ---------------------------------------------------------------- columns

select results_eq(
    $$select * from tap.columns_of('kstore.series')$$,
    $$
        values
            ('series_ticker', 'text', true, null),
            ('title', 'text', false, null),
            ('category', 'text', false, null),
            ('frequency', 'text', false, null),
            ('tags', 'text[]', false, null),
            ('fee_type', 'text', false, null),
            ('fee_multiplier', 'numeric(12,6)', false, null),
            ('contract_url', 'text', false, null),
            ('updated_time', 'timestamp with time zone', false, null),
            ('observed_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('changed_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('raw', 'jsonb', true, null),
            ('content_hash', 'text', false, 'md5((raw)::text)'),
            ('changed_xid', 'xid8', true, 'pg_current_xact_id()')
    $$,
    'kstore.series: columns, exact types, not-null and defaults'
);

select results_eq(
    $$select * from tap.columns_of('kstore.events')$$,
    $$
        values
            ('event_ticker', 'text', true, null),
            ('series_ticker', 'text', true, null),
            ('title', 'text', false, null),
            ('sub_title', 'text', false, null),
            ('category', 'text', false, null),
            ('collateral_return_type', 'text', false, null),
            ('mutually_exclusive', 'boolean', false, null),
            ('strike_date', 'timestamp with time zone', false, null),
            ('strike_period', 'text', false, null),
            ('updated_time', 'timestamp with time zone', false, null),
            ('observed_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('changed_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('raw', 'jsonb', true, null),
            ('content_hash', 'text', false, 'md5((raw)::text)'),
            ('changed_xid', 'xid8', true, 'pg_current_xact_id()'),
            ('version_source', 'text', true, '''rest''::text')
    $$,
    'kstore.events: columns, exact types, not-null and defaults'
);

select results_eq(
    $$select * from tap.columns_of('kstore.markets')$$,
    $$
        values
            ('market_ticker', 'text', true, null),
            ('event_ticker', 'text', true, null),
            ('series_ticker', 'text', false, null),
            ('market_type', 'text', false, null),
            ('title', 'text', false, null),
            ('yes_sub_title', 'text', false, null),
            ('no_sub_title', 'text', false, null),
            ('status', 'text', false, null),
            ('result', 'text', false, null),
            ('created_time', 'timestamp with time zone', false, null),
            ('open_time', 'timestamp with time zone', false, null),
            ('close_time', 'timestamp with time zone', false, null),
            ('expected_expiration_time', 'timestamp with time zone', false, null),
            ('settlement_ts', 'timestamp with time zone', false, null),
            ('settlement_value', 'numeric(10,6)', false, null),
            ('strike_type', 'text', false, null),
            ('floor_strike', 'numeric', false, null),
            ('cap_strike', 'numeric', false, null),
            ('price_level_structure', 'text', false, null),
            ('fractional_trading_enabled', 'boolean', false, null),
            ('yes_bid', 'numeric(10,6)', false, null),
            ('yes_ask', 'numeric(10,6)', false, null),
            ('last_price', 'numeric(10,6)', false, null),
            ('volume', 'numeric(18,2)', false, null),
            ('open_interest', 'numeric(18,2)', false, null),
            ('updated_time', 'timestamp with time zone', false, null),
            ('observed_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('changed_at', 'timestamp with time zone', true, 'clock_timestamp()'),
            ('raw', 'jsonb', true, null),
            ('content_hash', 'text', false, 'md5((raw)::text)'),
            ('changed_xid', 'xid8', true, 'pg_current_xact_id()'),
            ('version_source', 'text', true, '''rest''::text'),
            ('determination_ts', 'timestamp with time zone', false, null),
            ('is_deactivated', 'boolean', false, null)
    $$,
    'kstore.markets: columns, exact types, not-null and defaults'
);

select results_eq(
    $$
        select a.attgenerated::text
        from pg_attribute as a
        where a.attname = 'content_hash'
            and a.attrelid in (
                'kstore.series'::regclass, 'kstore.events'::regclass, 'kstore.markets'::regclass
            )
        order by a.attrelid::regclass::text
    $$,
    $$values ('s'), ('s'), ('s')$$,
    'content_hash is a stored generated column on series, events and markets'
);

insert into kstore.markets (market_ticker, event_ticker, yes_bid, volume, raw)
values (
    'KXTEST-1', 'KXTEST', '0.123456', '1234.5',
    '{"ticker": "KXTEST-1", "yes_bid_dollars": "0.123456"}'
);

select results_eq(
    $$
        select yes_bid::text, volume::text, content_hash = md5(raw::text)
        from kstore.markets
        where market_ticker = 'KXTEST-1'
    $$,
    $$values ('0.123456', '1234.50', true)$$,
    'prices and sizes read back exactly at their declared scale; content_hash is md5 of raw'
);

select throws_ok(
    $$insert into kstore.series (series_ticker) values ('KXNORAW')$$,
    '23502', null,
    'a reference row always keeps its raw payload'
);

select * from finish();  -- noqa: AM04
rollback;
