-- ops.window_start(ts, step) in every time-series database (sql/timeseries/ops_window_start.sql):
-- the one time grid. Hours and days start on UTC hours and UTC midnights whatever the session's
-- time zone, so the windows of a day partition cover it exactly; a window holds its start, not
-- its end; the grid function can be inlined (immutable) into grouped scans.

begin;
select plan(6);
set local timezone = 'America/New_York';

select is(
    ops.window_start(timestamptz '2025-03-09 07:59:59.999999+00', interval '1 hour'),
    timestamptz '2025-03-09 07:00:00+00',
    'an hour window starts on the UTC hour, on a day the session''s zone skips an hour'
);
select is(
    ops.window_start(timestamptz '2025-03-09 08:00:00+00', interval '1 hour'),
    timestamptz '2025-03-09 08:00:00+00',
    'a window holds its start'
);
select is(
    ops.window_start(timestamptz '2025-03-09 23:30:00-05', interval '24 hours'),
    timestamptz '2025-03-10 00:00:00+00',
    'a day window starts at UTC midnight, not the session''s'
);
select is(
    ops.window_start(timestamptz '1999-12-31 23:59:59+00', interval '24 hours'),
    timestamptz '1999-12-31 00:00:00+00',
    'times before the grid''s origin fall on the same grid'
);
select is(
    (
        select count(distinct ops.window_start(t, interval '1 hour'))
        from generate_series(
            timestamptz '2025-11-02 00:00+00', timestamptz '2025-11-02 23:59+00',
            interval '1 minute'
        ) as g (t)
    ),
    24::bigint,
    'a UTC day has 24 hour windows, on a day the session''s zone repeats an hour'
);
select volatility_is(
    'ops', 'window_start', array['timestamp with time zone', 'interval'], 'immutable',
    'the grid is immutable'
);

select * from finish();  -- noqa: AM04
rollback;
