-- ops.schema_migrations on a gatherer's time-series database: after the time-series foundation
-- (versions 1 to 7: timeseries/), every migration file of migrations/gatherer_ts/ is recorded
-- once, in version order (the table itself: common/).

begin;
select plan(1);

select results_eq(
    $$select version, name from ops.schema_migrations where version > 7 order by version$$,
    $$
        values
            (8, 'feed_gaps_and_quarantine'),
            (9, 'dedup_ack'),
            (10, 'grants'),
            (11, 'table_policies'),
            (12, 'xact_ids'),
            (13, 'dedup_ack_xid'),
            (14, 'capture_runs'),
            (15, 'table_catalog'),
            (16, 'feed_gaps_breaks'),
            (22, 'journal_checkpoints'),
            (31, 'trades_source')
    $$,
    'every later migration file of migrations/gatherer_ts/ is recorded once, in version order'
);

select * from finish();  -- noqa: AM04
rollback;
