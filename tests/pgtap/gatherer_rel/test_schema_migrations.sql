-- ops.schema_migrations on a gatherer's reference database: every migration file of
-- migrations/gatherer_rel/ is recorded once, in version order (the table itself: common/).

begin;
select plan(1);

select results_eq(
    $$select version, name from ops.schema_migrations order by version$$,
    $$
        values
            (1, 'ops_foundation'),
            (2, 'roles'),
            (3, 'series'),
            (4, 'events'),
            (5, 'markets'),
            (6, 'grants'),
            (7, 'changed_xids'),
            (8, 'table_catalog'),
            (9, 'lifecycle_versions')
    $$,
    'every migration file of migrations/gatherer_rel/ is recorded once, in version order'
);

select * from finish();  -- noqa: AM04
rollback;
