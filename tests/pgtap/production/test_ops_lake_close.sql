-- The lake's close rule in production (decisions 0014, 0015; sql/production/ops_lake_close.sql,
-- ops_lake_closed_until.sql), as kstore_exporter: a table without dedup cursors closes by the
-- wall clock; otherwise the earliest caught-up time of the live gatherers that capture, minus
-- close_after (a dead gatherer or one that never pulled blocks nothing; nothing closes until one
-- pulled). Once every live gatherer stopped and is merged the close is final and takes in the
-- window holding it: the hour, the day for daily tables, and for a dbt model (the earliest
-- close of every deduplicated time series) only when all of them are final.

begin;
select plan(14);

create function pg_temp.cursor(
    gatherer text, table_name text, caught_up boolean, last_pull interval,
    watermark interval default null, stopped interval default null
)
returns void
language sql as $$
    insert into ops.dedup_cursors (
        gatherer_id, table_name, caught_up, last_pull_at, watermark, source_stopped_at
    )
    values (
        gatherer, table_name, caught_up, now() - last_pull,
        coalesce(now() - watermark, '-infinity'), now() - stopped
    )
$$;

-- The close of a dataset with close_after 1 minute and dead_after 10 minutes.
create function pg_temp.closed(dataset text, grain text)
returns timestamptz
language sql as $$
    select ops.lake_closed_until(dataset, grain, interval '1 minute', interval '10 minutes')
$$;

-- ---------------------------------------------------------------- while gatherers capture

set local role kstore_exporter;
select results_eq(
    $$select * from ops.lake_close('trades', interval '1 minute', interval '10 minutes')$$,
    $$values (now() - interval '1 minute', false)$$,
    'a table without dedup cursors closes by the wall clock'
);
reset role;

select pg_temp.cursor('g1', 'trades', true, interval '1 minute');
select pg_temp.cursor('g2', 'trades', false, interval '0', interval '20 minutes');
select pg_temp.cursor('g3', 'trades', true, interval '2 hours');
select pg_temp.cursor('g4', 'trades', false, null);

set local role kstore_exporter;
select is(
    pg_temp.closed('trades', 'hour'),
    now() - interval '21 minutes',
    'the earliest caught-up time of the live gatherers (a watermark when behind), minus '
    'close_after; a dead gatherer and one that never pulled block nothing'
);
reset role;

update ops.dedup_cursors set caught_up = true
where gatherer_id = 'g2';
set local role kstore_exporter;
select is(
    pg_temp.closed('trades', 'hour'),
    now() - interval '2 minutes',
    'a gatherer that caught up counts with the time of its last pull'
);
select isnt(pg_temp.closed('tickers', 'hour'), null, 'tickers has no cursor at all: it closes');
reset role;

update ops.dedup_cursors set last_pull_at = null;
set local role kstore_exporter;
select is_empty(
    $$select * from ops.lake_close('trades', interval '1 minute', interval '10 minutes')$$,
    'no gatherer has pulled: nothing is closed'
);
select is(pg_temp.closed('trades', 'hour'), null, 'nor is the dataset');
reset role;

-- ---------------------------------------------------------------- stopped and merged

delete from ops.dedup_cursors;
select pg_temp.cursor('g1', t.table_name, true, interval '0', stopped => interval '5 minutes')
from ops.tables as t
where t.family = 'timeseries' and t.merge = 'pull';
select pg_temp.cursor('g2', t.table_name, true, interval '1 minute')
from ops.tables as t
where t.family = 'timeseries' and t.merge = 'pull';

set local role kstore_exporter;
select results_eq(
    $$select * from ops.lake_close('trades', interval '1 minute', interval '10 minutes')$$,
    $$values (now() - interval '2 minutes', false)$$,
    'a stopped, merged gatherer holds nothing back; a capturing one does'
);
reset role;

update ops.dedup_cursors set source_stopped_at = now() - interval '3 minutes'
where gatherer_id = 'g2';
set local role kstore_exporter;
select results_eq(
    $$select * from ops.lake_close('trades', interval '1 minute', interval '10 minutes')$$,
    $$values (now() - interval '1 minute', true)$$,
    'every live gatherer stopped and merged: final, from the wall clock minus close_after'
);
select is(
    pg_temp.closed('trades', 'hour'),
    date_trunc('hour', now() - interval '1 minute', 'UTC') + interval '1 hour',
    'a final close takes in the hour holding its bound'
);
select is(
    pg_temp.closed('orderbook_snapshots', 'day'),
    date_trunc('day', now() - interval '1 minute', 'UTC') + interval '1 day',
    'a daily table closes the day holding its bound'
);
select is(
    pg_temp.closed('aggregates.agg_candles_1m', 'day'),
    date_trunc('day', now() - interval '1 minute', 'UTC') + interval '1 day',
    'a model closes with every deduplicated time series'
);
reset role;

update ops.dedup_cursors set source_stopped_at = now() + interval '5 minutes'
where gatherer_id = 'g2' and table_name = 'trades';
set local role kstore_exporter;
select results_eq(
    $$select * from ops.lake_close('trades', interval '1 minute', interval '10 minutes')$$,
    $$values (now() + interval '6 minutes', true)$$,
    'a stop ahead of the wall clock (clock skew) is the bound, plus close_after'
);
reset role;

update ops.dedup_cursors set source_stopped_at = null
where gatherer_id = 'g2' and table_name = 'tickers';
set local role kstore_exporter;
select is(
    pg_temp.closed('aggregates.agg_candles_1m', 'day'),
    now() - interval '2 minutes',
    'one table still capturing: models wait for it'
);
select cmp_ok(pg_temp.closed('trades', 'hour'), '>', now(), 'trades stays final');
reset role;

select * from finish();  -- noqa: AM04
rollback;
