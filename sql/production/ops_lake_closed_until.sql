-- ops.lake_closed_until(dataset, grain, close_after, dead_after): where a lake dataset is closed,
-- or null when nothing is yet. A table of the catalog with a lake grain closes by its own rule
-- (ops.lake_close); anything else (a dbt model) by the earliest close of the time series the
-- deduplicator pulls. A final close (every one final) takes in the window holding its bound.
-- A catalog table that is not a time series (reference snapshots, history, feed gaps) closes
-- finally too once every pulled time series does: nothing captures, so its day is complete
-- (the snapshot at the final close, decision 0046).

create or replace function ops.lake_closed_until(
    dataset text, grain text, close_after interval, dead_after interval
)
returns timestamptz
language plpgsql stable as $$
declare
    step interval := ops.lake_step(grain);
    own_rule boolean := exists (
        select from ops.tables as t where t.table_name = dataset and t.lake_grain is not null
    );
    bound timestamptz;
    unclosed boolean;
    all_final boolean;
    final_bound timestamptz;
begin
    select min(c.closed_until), bool_or(c.closed_until is null), bool_and(c.final)
    into bound, unclosed, all_final
    from ops.tables as t
    left join lateral ops.lake_close(t.table_name, close_after, dead_after) as c on true
    where
        (own_rule and t.table_name = dataset)
        or (not own_rule and t.family = 'timeseries' and t.merge = 'pull');
    if unclosed or bound is null then
        return null;
    end if;
    if own_rule and not all_final
        and exists (
            select from ops.tables as t
            where t.table_name = dataset and t.family <> 'timeseries'
        ) then
        final_bound := ops.lake_final_close(close_after, dead_after);
        if final_bound is not null then
            bound := greatest(bound, final_bound);
            all_final := true;
        end if;
    end if;
    if all_final and ops.window_start(bound, step) <> bound then
        return ops.window_start(bound, step) + step;
    end if;
    return bound;
end
$$;
