-- ops.lake_plan_snapshot(dataset, relation, time_column, prefix, closed_until): the snapshot
-- window of a reference table still to take (decision 0046), for ops.lake_plan. A snapshot
-- holds the table's rows as of the end of its UTC day: the newest closed day is taken as soon
-- as it closes (its end, or the final close of a stopped platform: then today, so far). Not
-- taken: a day that ended before production knew any row (no version recorded in the table's
-- *_history by then; without one, an empty table). Taken again: a snapshot taken before its
-- day ended when rows changed later that day (time_column beyond the snapshot's max_ts).
-- An older day's state cannot be rebuilt: such a window is never planned again.

create or replace function ops.lake_plan_snapshot(
    dataset text, relation regclass, time_column name, prefix text, closed_until timestamptz
)
returns table (window_start timestamptz, window_end timestamptz, object_key text, row_count bigint)
language plpgsql as $$
declare
    step interval := interval '24 hours';
    day timestamptz := ops.window_start(closed_until, step) - step;
    history regclass := to_regclass(relation::text || '_history');
    known boolean;
    taken ops.export_manifest;
    changed boolean := false;
begin
    if history is not null then
        execute format('select exists (select from %s where recorded_at < $1)', history)
        into known using day + step;
    else
        execute format('select exists (select from %s)', relation) into known;
    end if;
    select m.* into taken from ops.export_manifest as m
    where m.table_name = dataset and m.window_start = day;
    if not known and taken.table_name is null then
        return;
    end if;
    if taken.verified_at is not null and time_column is not null
        and taken.exported_at < taken.window_end then
        execute format(
            'select exists (select from %s where %I > $1 and %I < $2)',
            relation, time_column, time_column
        ) into changed using coalesce(taken.max_ts, '-infinity'), day + step;
        if changed then
            update ops.export_manifest as m set verified_at = null
            where m.table_name = dataset and m.window_start = day;
        end if;
    end if;
    if taken.verified_at is null or changed then
        return query select
            day, day + step, ops.lake_object_key(prefix, 'snapshot', day),
            coalesce(taken.row_count, 0::bigint);
    end if;
end
$$;
