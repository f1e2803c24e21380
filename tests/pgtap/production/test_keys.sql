-- Keys of the production database's own tables (the time-series and reference tables:
-- timeseries/test_keys.sql, reference/test_keys.sql): merged feed gaps keyed by (gatherer, gap
-- id), one history row per distinct version of a series/event/market, one cursor per
-- (gatherer, table), one manifest row per exported window; and the indexes exports and
-- queries rely on.

begin;
select plan(13);

-- ---------------------------------------------------------------- declared keys

select col_is_pk(
    'kstore', 'feed_gaps', array['gatherer_id', 'gap_id'],
    'feed_gaps are keyed by (gatherer_id, gap_id)'
);
select col_is_pk(
    'kstore', 'series_history', array['series_ticker', 'content_hash'],
    'series_history is keyed by (series_ticker, content_hash)'
);
select col_is_pk(
    'kstore', 'events_history', array['event_ticker', 'content_hash'],
    'events_history is keyed by (event_ticker, content_hash)'
);
select col_is_pk(
    'kstore', 'markets_history', array['market_ticker', 'content_hash'],
    'markets_history is keyed by (market_ticker, content_hash)'
);
select col_is_pk(
    'ops', 'dedup_cursors', array['gatherer_id', 'table_name'],
    'ops.dedup_cursors: one cursor per (gatherer, table)'
);
select col_is_pk(
    'ops', 'export_manifest', array['table_name', 'window_start'],
    'ops.export_manifest: one row per (table, window)'
);

-- ---------------------------------------------------------------- indexes

select has_index(
    'kstore', 'feed_gaps', 'feed_gaps_detected_at_idx', array['detected_at'],
    'feed_gaps are indexed by detected_at'
);
select has_index(
    'kstore', 'markets_history', 'markets_history_updated_time_idx',
    array['market_ticker', 'updated_time'],
    'markets_history is indexed by (market_ticker, updated_time)'
);
select has_index(
    'ops', 'export_manifest', 'export_manifest_verified_idx', array['table_name', 'window_end'],
    'export_manifest is indexed by (table_name, window_end)'
);
select is(
    (
        select pg_get_expr(x.indpred, x.indrelid)
        from pg_index as x
        where x.indexrelid = 'ops.export_manifest_verified_idx'::regclass
    ),
    '(verified_at IS NOT NULL)',
    'export_manifest_verified_idx covers verified windows only'
);

-- ---------------------------------------------------------------- feed_gaps, cursors, manifest

insert into kstore.feed_gaps (
    gatherer_id, gap_id, connection_id, sid, expected_seq, received_seq, detected_at
)
values
('g1', 1, 'c1', 1, 10, 12, now()),
('g2', 1, 'c9', 4, 50, 51, now()),
('g1', 1, 'c1', 1, 10, 12, now())
on conflict do nothing;

select results_eq(
    $$select gatherer_id, gap_id from kstore.feed_gaps order by gatherer_id$$,
    $$values ('g1', 1::bigint), ('g2', 1::bigint)$$,
    'feed_gaps: one row per (gatherer, gap id); equal gap ids of two gatherers are two rows'
);

insert into ops.dedup_cursors (gatherer_id, table_name) values ('g1', 'trades');

select throws_ok(
    $$insert into ops.dedup_cursors (gatherer_id, table_name) values ('g1', 'trades')$$,
    '23505', null,
    'a second cursor for the same (gatherer, table) is refused'
);

insert into ops.export_manifest (table_name, window_start, window_end, row_count, object_key)
values ('trades', '2030-01-01', '2030-01-02', 5, 'raw/trades/date=2030-01-01/trades-1.parquet');

select throws_ok(
    $$
        insert into ops.export_manifest (
            table_name, window_start, window_end, row_count, object_key
        )
        values ('trades', '2030-01-01', '2030-01-02', 5, 'raw/trades/date=2030-01-01/x.parquet')
    $$,
    '23505', null,
    'a window is recorded once (a re-export replaces, never duplicates)'
);

select * from finish();  -- noqa: AM04
rollback;
