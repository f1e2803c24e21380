-- ops.lake_plan(dataset, relation, time_column, grain, prefix, closed_until): the closed windows
-- of a lake dataset still to (re-)export, oldest first, with their object keys and the rows
-- the manifest last recorded for them. Windows from the manifest's newest window (the first
-- time: the UTC day of the relation's oldest row, so its day partition is covered whole) up to
-- closed_until are recorded first, unverified; windows already known are kept. A snapshot
-- dataset: ops.lake_plan_snapshot (the newest closed UTC day, once production knew rows).

create or replace function ops.lake_plan(
    dataset text, relation regclass, time_column name, grain text, prefix text,
    closed_until timestamptz
)
returns table (window_start timestamptz, window_end timestamptz, object_key text, row_count bigint)
language plpgsql as $$
declare
    step interval := ops.lake_step(grain);
    first_start timestamptz;
begin
    if grain = 'snapshot' then
        return query select * from ops.lake_plan_snapshot(
            dataset, relation, time_column, prefix, closed_until
        );
        return;
    end if;
    select max(m.window_end) into first_start
    from ops.export_manifest as m where m.table_name = dataset;
    if first_start is null then
        first_start := ops.lake_oldest_day(relation, time_column);
    end if;
    insert into ops.export_manifest as m (table_name, window_start, window_end, row_count, object_key)
    select dataset, s.ts, s.ts + step, 0, ops.lake_object_key(prefix, grain, s.ts)
    from generate_series(ops.window_start(first_start, step), closed_until - step, step)
        as s (ts)
    on conflict do nothing;
    return query
    select m.window_start, m.window_end, ops.lake_object_key(prefix, grain, m.window_start),
        m.row_count
    from ops.export_manifest as m
    where m.table_name = dataset and m.verified_at is null and m.window_end <= closed_until
    order by m.window_start;
end
$$;
