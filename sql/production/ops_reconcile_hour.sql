-- ops.reconcile_hour(run_id, hour, trade_ids, trade_ts, tickers, markets): one UTC hour of the
-- exchange's trade record (the arrays, as kstore reconcile fetched them, ts already the
-- WebSocket's ts_ms) against production, by trade_id. Replaces the hour's rows of
-- ops.reconciliation (only `markets`' rows when given; null: every market) in the caller's
-- transaction and returns the exchange trades production lacks. Trades fetched outside the
-- hour only count as known (a production row near the boundary is not unexpected). Production
-- rows are matched within a minute of the hour, so a trade stored under a different ts counts
-- as present and shows as duplicated where it is stored twice.

create or replace function ops.reconcile_hour(
    run_id bigint, hour timestamptz, trade_ids uuid[], trade_ts timestamptz[],
    tickers text[], markets text[]
)
returns table (trade_id uuid)
language plpgsql as $$
begin
    delete from ops.reconciliation as r
    where r.hour = reconcile_hour.hour and (markets is null or r.market_ticker = any(markets));
    insert into ops.reconciliation (
        hour, market_ticker, exchange_trades, production_trades, missing, unexpected,
        duplicated, run_id
    )
    select reconcile_hour.hour, s.market_ticker, s.exchange_trades, s.production_trades,
        s.missing, s.unexpected, s.duplicated, reconcile_hour.run_id
    from ops.reconcile_counts(hour, markets, trade_ids, trade_ts, tickers) as s;
    return query
    select distinct e.id from unnest(trade_ids, trade_ts, tickers) as e (id, ts, ticker)
    where e.ts >= hour and e.ts < hour + interval '1 hour'
        and (markets is null or e.ticker = any(markets))
        and not exists (
        select from kstore.trades as p
        where p.trade_id = e.id
            and p.ts between e.ts - interval '1 minute' and e.ts + interval '1 minute'
    );
end
$$;

-- ops.reconcile_counts(hour, markets, trade_ids, trade_ts, tickers): per market, the figures of
-- ops.reconciliation for one hour, from the fetched record and production's trades.
create or replace function ops.reconcile_counts(
    hour timestamptz, markets text[], trade_ids uuid[], trade_ts timestamptz[], tickers text[]
)
returns table (
    market_ticker text, exchange_trades integer, production_trades integer, missing integer,
    unexpected integer, duplicated integer
)
language sql stable as $$
    with fetched as (
        select distinct on (e.trade_id) e.trade_id, e.ts, e.market_ticker
        from unnest(trade_ids, trade_ts, tickers) as e (trade_id, ts, market_ticker)
        where markets is null or e.market_ticker = any(markets)
    ),
    exchange as (
        select f.trade_id, f.ts, f.market_ticker from fetched as f
        where f.ts >= hour and f.ts < hour + interval '1 hour'
    ),
    stored as (
        select p.trade_id, p.ts, p.market_ticker from kstore.trades as p
        where p.ts >= hour - interval '1 minute' and p.ts < hour + interval '61 minutes'
            and (markets is null or p.market_ticker = any(markets))
    ),
    in_hour as (
        select s.trade_id, s.market_ticker from stored as s
        where s.ts >= hour and s.ts < hour + interval '1 hour'
    ),
    exchange_counts as (
        select e.market_ticker, count(*) as trades,
            count(*) filter (where not exists (
                select from stored as s where s.trade_id = e.trade_id
            )) as missing
        from exchange as e group by e.market_ticker
    ),
    production_counts as (
        select h.market_ticker, count(*) as trades,
            count(*) - count(distinct h.trade_id) as duplicated,
            count(*) filter (where not exists (
                select from fetched as f where f.trade_id = h.trade_id
            )) as unexpected
        from in_hour as h group by h.market_ticker
    )
    select coalesce(e.market_ticker, p.market_ticker),
        coalesce(e.trades, 0)::integer, coalesce(p.trades, 0)::integer,
        coalesce(e.missing, 0)::integer, coalesce(p.unexpected, 0)::integer,
        coalesce(p.duplicated, 0)::integer
    from exchange_counts as e
    full join production_counts as p on e.market_ticker = p.market_ticker
$$;

revoke all on function ops.reconcile_hour(
    bigint, timestamptz, uuid[], timestamptz[], text[], text[]
) from public;
grant execute on function ops.reconcile_hour(
    bigint, timestamptz, uuid[], timestamptz[], text[], text[]
) to kstore_dedup;
