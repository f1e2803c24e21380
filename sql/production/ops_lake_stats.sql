-- ops.lake_stats(relation, time_column, grain, low, high): what production holds, per window
-- of [low, high): its rows and the range of its time column, the figures an exported object
-- must equal to be verified. A snapshot dataset is one window starting at `low` holding the
-- whole relation (its time range only when it has a time column). Windows without rows are
-- absent.

create or replace function ops.lake_stats(
    relation regclass, time_column name, grain text, low timestamptz, high timestamptz
)
returns table (window_start timestamptz, row_count bigint, min_ts timestamptz, max_ts timestamptz)
language plpgsql stable as $$
declare
    step interval := ops.lake_step(grain);
    ts text := case
        when time_column is null then 'null::timestamptz'
        else format('%I::timestamptz', time_column)
    end;
begin
    if grain = 'snapshot' then
        return query execute format(
            'select $1, count(*), min(%1$s), max(%1$s) from %2$s', ts, relation
        ) using low;
        return;
    end if;
    return query execute format(
        'select ops.window_start(%1$s, $3) as w, count(*), min(%1$s), max(%1$s) from %2$s'
        ' where %3$I >= $1 and %3$I < $2 group by w',
        ts, relation, time_column
    ) using low, high, step;
end
$$;
