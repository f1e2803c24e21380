-- ops.record_version(history table, key column): every distinct version of a series, event or
-- market that reaches production is kept once in its append-only history table, whether or
-- not it becomes the current row (an older version is history, never current). The triggers
-- are named *_history_version so they fire before *_keep_newest (triggers fire by name).

create or replace function ops.record_version()
returns trigger
language plpgsql as $$
begin
    execute format(
        'insert into %s (%I, content_hash, updated_time, observed_at, raw) '
        'values ($1, $2, $3, $4, $5) on conflict do nothing',
        tg_argv[0], tg_argv[1]
    ) using to_jsonb(new) ->> tg_argv[1], md5(new.raw::text), new.updated_time,
        new.observed_at, new.raw;
    return new;
end
$$;

create or replace trigger series_history_version
before insert or update on kstore.series
for each row execute function ops.record_version('kstore.series_history', 'series_ticker');

create or replace trigger events_history_version
before insert or update on kstore.events
for each row execute function ops.record_version('kstore.events_history', 'event_ticker');

create or replace trigger markets_history_version
before insert or update on kstore.markets
for each row execute function ops.record_version('kstore.markets_history', 'market_ticker');
