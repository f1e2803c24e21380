-- ops.lake_mark_changed_counts(dataset, relation, time_column, grain, prefix): for relations
-- without xact_id (dbt models): re-opens the windows whose row count in `relation` differs from
-- the verified manifest row's, a window missing on either side counting 0 rows (one grouped
-- scan; the models are small). Returns the windows re-opened or planned.

create or replace function ops.lake_mark_changed_counts(
    dataset text, relation regclass, time_column name, grain text, prefix text
)
returns integer
language plpgsql as $$
declare
    touched timestamptz[];
begin
    execute format(
        'with counted as ('
        '    select ops.window_start(%I::timestamptz, $2) as window_start, count(*) as row_count'
        '    from %s group by 1'
        '), verified as ('
        '    select m.window_start, m.row_count from ops.export_manifest as m'
        '    where m.table_name = $1 and m.verified_at is not null'
        ')'
        ' select array_agg(coalesce(c.window_start, v.window_start))'
        ' from counted as c full join verified as v on c.window_start = v.window_start'
        ' where coalesce(c.row_count, 0) <> coalesce(v.row_count, 0)',
        time_column, relation
    ) into touched using dataset, ops.lake_step(grain);
    return ops.lake_reopen(
        dataset, grain, prefix, touched,
        (select max(m.window_end) from ops.export_manifest as m where m.table_name = dataset)
    );
end
$$;
