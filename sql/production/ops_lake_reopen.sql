-- ops.lake_reopen(dataset, grain, prefix, touched, frontier): windows whose rows changed are
-- exported again. Touched windows the manifest holds lose their verification; touched windows
-- before `frontier` (the end of the newest known window) that it lacks (history loaded after
-- the export passed them) are planned with every window of their UTC day, so the day partition
-- is covered exactly once they are verified. Returns the windows re-opened or planned.

create or replace function ops.lake_reopen(
    dataset text, grain text, prefix text, touched timestamptz[], frontier timestamptz
)
returns integer
language plpgsql as $$
declare
    step interval := ops.lake_step(grain);
    marked integer;
    planned integer;
begin
    update ops.export_manifest as m set verified_at = null
    where m.table_name = dataset and m.window_start = any(touched) and m.verified_at is not null;
    get diagnostics marked = row_count;
    insert into ops.export_manifest (table_name, window_start, window_end, row_count, object_key)
    select dataset, w.ts, w.ts + step, 0, ops.lake_object_key(prefix, grain, w.ts)
    from (
        select distinct ops.window_start(t.ts, interval '24 hours') as day
        from unnest(touched) as t (ts)
        where t.ts < frontier
    ) as d
    cross join lateral generate_series(d.day, d.day + interval '24 hours' - step, step) as w (ts)
    on conflict do nothing;
    get diagnostics planned = row_count;
    return marked + planned;
end
$$;
