-- ops.window_start(ts, step): the one time grid of kstore. Windows of `step` (hours, days; no
-- months) are aligned to UTC midnight, whatever the session's time zone, so a day partition
-- is covered exactly by its hourly or daily windows (guarded retention, decision 0004). The
-- lake's windows (ops.lake_step) and any other cut of time on a grid use it.

create or replace function ops.window_start(ts timestamptz, step interval)
returns timestamptz
language sql immutable parallel safe as $$
    select date_bin(step, ts, timestamptz '2000-01-01 00:00:00+00')
$$;
