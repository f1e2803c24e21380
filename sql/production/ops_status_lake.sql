-- ops.status_lake(close_after, dead_after): the lake's freshness per dataset, as `kstore
-- status` and the exporter's metrics report it (docs/status.md). For every dataset of the table
-- catalog with a lake grain: where it is closed (ops.lake_closed_until, the exporter's own rule),
-- the newest verified window and when it was verified, how many closed windows are known and
-- unverified, and stale_s: how long ago the oldest closed window that the lake does not yet
-- hold verified ended (null when the lake holds every closed window). An exporter that stops,
-- or fails to verify, makes stale_s grow. Other manifest datasets (dbt layers) get the newest
-- verified window only: their close follows the raw tables'.

create or replace function ops.status_lake(close_after interval, dead_after interval)
returns table (
    dataset text, grain text, closed_until timestamptz, last_verified_end timestamptz,
    last_verified_at timestamptz, unverified bigint, stale_s double precision
)
language plpgsql as $$
declare
    t record;
    pending timestamptz;
begin
    for t in select c.table_name::text as name, c.lake_grain, c.time_column
        from ops.tables as c where c.lake_grain is not null order by c.table_name loop
        dataset := t.name;
        grain := t.lake_grain;
        closed_until := ops.lake_closed_until(t.name, t.lake_grain, close_after, dead_after);
        pending := ops.status_lake_pending(t.name, t.lake_grain, t.time_column, closed_until);
        stale_s := case when pending is not null
            then greatest(0, extract(epoch from now() - pending)) end;
        select max(m.window_end) filter (where m.verified_at is not null), max(m.verified_at),
            count(*) filter (where m.verified_at is null and m.window_end <= closed_until)
        into last_verified_end, last_verified_at, unverified
        from ops.export_manifest as m where m.table_name = t.name;
        return next;
    end loop;
    return query
    select m.table_name, null::text, null::timestamptz,
        max(m.window_end) filter (where m.verified_at is not null), max(m.verified_at),
        null::bigint, null::double precision
    from ops.export_manifest as m
    where not exists (select from ops.tables as c where c.table_name = m.table_name)
    group by m.table_name order by m.table_name;
end
$$;

-- ops.status_lake_pending(dataset, grain, time_column, closed_until): the end of the oldest
-- closed window of a catalog dataset that is not verified in the lake, or null. A window the
-- exporter planned and has not verified; else the first closed window after every planned one
-- (the exporter has not looked since it closed); else, never exported, the first window that
-- holds a row. A snapshot dataset's only window is the newest closed day, due once its
-- *_history recorded a version before that day ended (none is taken otherwise).

create or replace function ops.status_lake_pending(
    dataset text, grain text, time_column name, closed_until timestamptz
)
returns timestamptz
language plpgsql stable as $$
declare
    step interval := ops.lake_step(grain);
    closed_end timestamptz := ops.window_start(closed_until, step);
    verified timestamptz;
    planned timestamptz;
    oldest timestamptz;
    first_row timestamptz;
begin
    if closed_until is null then
        return null;
    end if;
    select max(m.window_end) filter (where m.verified_at is not null), max(m.window_end),
        min(m.window_end) filter (where m.verified_at is null and m.window_end <= closed_end)
    into verified, planned, oldest
    from ops.export_manifest as m where m.table_name = dataset;
    if grain = 'snapshot' then
        planned := verified;
        oldest := null;
    end if;
    if oldest is not null or planned >= closed_end then
        return oldest;
    elsif planned is not null then
        return case when grain = 'snapshot' then closed_end else planned + step end;
    end if;
    if grain = 'snapshot' and to_regclass(format('kstore.%I', dataset || '_history')) is not null
        then  -- due once production knew a version before the day ended (ops.lake_plan_snapshot)
        execute format('select min(recorded_at) from kstore.%I', dataset || '_history')
        into first_row;
    else
        execute format('select min(%I)::timestamptz from kstore.%I', time_column, dataset)
        into first_row;
    end if;
    first_row := case when first_row is null then null
        when grain = 'snapshot' then case when first_row < closed_end then closed_end end
        else ops.window_start(first_row, step) + step end;
    return case when first_row <= closed_end then first_row end;
end
$$;
