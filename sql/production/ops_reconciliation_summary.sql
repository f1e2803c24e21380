-- ops.reconciliation_summary: kstore reconcile's findings per UTC day (kstore status shows the
-- recent days). complete: every checked trade of the day is in production exactly once and
-- production holds none the exchange does not list; recovered trades count as missing until
-- the deduplicator has merged them and a later check has seen them.
create or replace view ops.reconciliation_summary as
select
    (r.hour at time zone 'UTC')::date as day,
    count(distinct r.hour) as hours_checked,
    count(*) as market_hours,
    sum(r.exchange_trades) as exchange_trades,
    sum(r.production_trades) as production_trades,
    sum(r.missing) as missing,
    sum(r.recovered) as recovered,
    sum(r.unexpected) as unexpected,
    sum(r.duplicated) as duplicated,
    max(r.checked_at) as last_checked_at,
    coalesce(sum(r.missing) + sum(r.unexpected) + sum(r.duplicated) = 0, true) as complete
from ops.reconciliation as r
group by 1;

comment on view ops.reconciliation_summary is
'kstore reconcile per UTC day: trades on the exchange and in production, missing, recovered, '
'unexpected, duplicated; complete when nothing is missing, unexpected or duplicated.';
select ops.comment_columns('ops.reconciliation_summary', array[
    ['day', 'UTC day of the checked hours.'],
    ['hours_checked', 'Distinct hours of the day checked.'],
    ['market_hours', 'Market and hour pairs checked.'],
    ['exchange_trades', 'Trades the exchange lists for them.'],
    ['production_trades', 'Trades production holds for them.'],
    ['missing', 'Exchange trades production lacked when checked.'],
    ['recovered', 'Missing trades written into a gatherer for the deduplicator to merge.'],
    ['unexpected', 'Production trades the exchange does not list.'],
    ['duplicated', 'Trades production holds more than once.'],
    ['last_checked_at', 'When an hour of the day was last checked.'],
    ['complete', 'True when nothing is missing, unexpected or duplicated.']
]);

grant select on ops.reconciliation_summary to kstore_dedup, kstore_analyst;
