-- ops.schema_migrations in the production database: after the time-series foundation
-- (versions 1 to 7: timeseries/), every migration file of migrations/production/ is recorded
-- once, in version order (the table itself: common/). Files shared with the gatherers
-- (symlinks) are recorded under production's own version numbers.

begin;
select plan(1);

select results_eq(
    $$select version, name from ops.schema_migrations where version > 7 order by version$$,
    $$
        values
            (8, 'feed_gaps'),
            (9, 'series'),
            (10, 'events'),
            (11, 'markets'),
            (12, 'reference_history'),
            (13, 'dedup_cursors'),
            (14, 'export_manifest'),
            (15, 'grants'),
            (16, 'table_policies'),
            (17, 'xact_ids'),
            (18, 'changed_xids'),
            (19, 'merged_at'),
            (20, 'dedup_cursors_xid'),
            (21, 'postgres_fdw'),
            (22, 'transform_role'),
            (23, 'export_cursors'),
            (24, 'dedup_cursors_source_stopped'),
            (25, 'table_catalog'),
            (26, 'feed_gaps_breaks'),
            (27, 'lifecycle_versions'),
            (35, 'export_manifest_layout'),
            (40, 'lake_scrub'),
            (41, 'lake_change_ids'),
            (60, 'trades_source'),
            (61, 'reconciliation')
    $$,
    'every later migration file of migrations/production/ is recorded once, in version order'
);

select * from finish();  -- noqa: AM04
rollback;
