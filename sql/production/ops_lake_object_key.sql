-- ops.lake_object_key(prefix, grain, window_start): the lake object of a window in lake layout 2
-- (decision 0040), always the same key for the same window, so a re-export replaces it and never
-- adds a second copy. Partition folders need no quoting in any engine: `dt` is a DATE, `hour`
-- an unpadded INTEGER:
--   raw/trades/dt=2025-01-01/hour=3/trades-2025-01-01T03.parquet        (hour)
--   raw/orderbook_snapshots/dt=2025-01-01/orderbook_snapshots-2025-01-01.parquet (day, snapshot)

create or replace function ops.lake_object_key(prefix text, grain text, window_start timestamptz)
returns text
language sql stable parallel safe as $$
    select format(
        '%s/dt=%s/%s%s-%s.parquet',
        rtrim(prefix, '/'),
        to_char(utc, 'YYYY-MM-DD'),
        case when grain = 'hour' then format('hour=%s/', extract(hour from utc)) else '' end,
        regexp_replace(rtrim(prefix, '/'), '^.*/', ''),
        to_char(utc, case when grain = 'hour' then 'YYYY-MM-DD"T"HH24' else 'YYYY-MM-DD' end)
    )
    from (select window_start at time zone 'UTC' as utc) as w
$$;
