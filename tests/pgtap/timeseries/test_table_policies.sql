-- ops.table_policies in every time-series database (DESIGN §1): the table itself, one policy
-- per registered time-series table, the constraints that keep a policy sane, the compression
-- settings derived from the primary key where a policy leaves them null (decision 0017), and
-- ops.apply_policies() turning a changed policy into storage on either path. The values each
-- tier declares (policies/<kind>.sql) are checked in its own folder.

begin;
select plan(17);

select results_eq(
    $$select * from tap.columns_of('ops.table_policies')$$,
    $$
        values
            ('table_name', 'regclass', true, null),
            ('chunk_interval', 'interval', true, '''1 day''::interval'),
            ('compress_after', 'interval', false, null),
            ('compress_segmentby', 'text', false, null),
            ('compress_orderby', 'text', false, null),
            ('retain_for', 'interval', false, null),
            ('premake_days', 'integer', true, '7')
        union all
        -- production only: the age of lake verification retention wants (decision 0045)
        select 'verified_within', 'interval', true, '''7 days''::interval'
        where ops.database_kind() = 'production'
    $$,
    'ops.table_policies: columns'
);
select col_is_pk(
    'ops', 'table_policies', array['table_name'], 'ops.table_policies: one row per table'
);
select fk_ok(
    'ops', 'table_policies', array['table_name'], 'ops', 'timeseries', array['table_name'],
    'a policy exists only for a registered time-series table'
);

select is_empty(
    $$
        select table_name from ops.timeseries
        except
        select table_name from ops.table_policies
    $$,
    'no time-series table is without a policy'
);

select throws_ok(
    $$
        update ops.table_policies set retain_for = '12 hours'
        where table_name = 'kstore.trades'::regclass
    $$,
    '23514', null,
    'retention shorter than one chunk is refused'
);

select throws_ok(
    $$
        update ops.table_policies set premake_days = 0
        where table_name = 'kstore.trades'::regclass
    $$,
    '23514', null,
    'premake_days is at least 1'
);

select throws_ok(
    $$insert into ops.table_policies (table_name) values ('ops.storage')$$,
    '23503', null,
    'a policy for a table that is not a registered time series is refused'
);

select lives_ok(
    $$select ops.apply_policies()$$,
    'ops.apply_policies() brings storage in line with ops.table_policies'
);

-- Two more premade days for tickers: two new day partitions on the plain path, nothing to do
-- on TimescaleDB (chunks are created on demand).
update ops.table_policies set premake_days = premake_days + 2
where table_name = 'kstore.tickers'::regclass;

select is(
    ops.apply_policies(),
    case ops.storage_path() when 'plain' then 2 else 0 end,
    'ops.apply_policies() premakes the extra day partitions (plain) or changes nothing'
);

select is(
    (
        select count(*)::integer from ops.partitions()
        where
            table_name = 'kstore.tickers'::regclass
            and range_start >= date_trunc('day', now(), 'UTC') + (
                select tp.premake_days - 1 from ops.table_policies as tp
                where tp.table_name = 'kstore.tickers'::regclass
            ) * interval '1 day'
    ),
    case ops.storage_path() when 'plain' then 2 else 0 end,
    'tickers partitions now reach premake_days ahead (plain)'
);

-- Compression settings a policy leaves null come from the primary key (ops.compression_defaults):
-- segment by its leading column, order by time descending, then the rest of the key.
select results_eq(
    $$
        select d.segmentby, d.orderby
        from ops.compression_defaults('kstore.orderbook_deltas', null) as d
    $$,
    $$values ('market_ticker', 'ts desc, side, price, delta, dup_ordinal, key_scope')$$,
    'orderbook_deltas: segmented by market, ordered by time then the rest of its key'
);
select results_eq(
    $$
        select d.segmentby, d.orderby
        from ops.compression_defaults('kstore.orderbook_snapshots', null) as d
    $$,
    $$values ('market_ticker', 'captured_at desc, gatherer_id, source')$$,
    'orderbook_snapshots: ordered by its own time column'
);
select results_eq(
    $$
        select null::text, d.segmentby, d.orderby
        from ops.compression_defaults('kstore.trades', null) as d
        union all
        select 'market_ticker', d.segmentby, d.orderby
        from ops.compression_defaults('kstore.trades', 'market_ticker') as d
    $$,
    $$
        values
            (null, 'trade_id', 'ts desc'),
            ('market_ticker', 'market_ticker', 'ts desc, trade_id')
    $$,
    'trades: the key leads with trade_id; a declared segmentby is kept and the order follows it'
);
select results_eq(
    $$
        select d.segmentby, d.orderby
        from ops.compression_defaults('kstore.tickers', '') as d
        union all
        select d.segmentby, d.orderby
        from ops.compression_defaults('kstore.tickers', 'market_ticker, gatherer_id') as d
    $$,
    $$
        values
            ('', 'ts desc, market_ticker, fingerprint'),
            ('market_ticker, gatherer_id', 'ts desc, fingerprint')
    $$,
    'tickers: no segmentby orders by the whole key; segmentby columns leave the order'
);

-- A new segmentby for tickers: a compression change on TimescaleDB, nothing on plain.
set local client_min_messages = warning;
update ops.table_policies set compress_segmentby = 'market_ticker, gatherer_id'
where table_name = 'kstore.tickers'::regclass;

select is(
    ops.apply_policies(),
    case ops.storage_path() when 'timescaledb' then 1 else 0 end,
    'ops.apply_policies() applies a changed compression setting (TimescaleDB) exactly once'
);

select is(
    ops.apply_policies(),
    0,
    'ops.apply_policies() is a no-op when storage matches the policies'
);

-- A declared orderby wins over the derived one; the declared segmentby stays (the tier's).
update ops.table_policies set compress_orderby = 'ts desc'
where table_name = 'kstore.trades'::regclass;
select results_eq(
    $$
        select compress_segmentby, compress_orderby from ops.effective_policies
        where table_name = 'kstore.trades'::regclass
    $$,
    $$
        select compress_segmentby, 'ts desc'::text from ops.table_policies
        where table_name = 'kstore.trades'::regclass
    $$,
    'a declared orderby is applied as declared (ops.effective_policies)'
);

select * from finish();  -- noqa: AM04
rollback;
