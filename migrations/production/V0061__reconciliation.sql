-- kstore reconcile's report (decision 0066): production's trades against the exchange's own
-- record, per market and UTC hour. A row is the newest check of its (hour, market): a check
-- replaces every row of the hours (and markets) it covered, so the table always says what the
-- last look found. ops.reconciliation_runs keeps one row per run.

create table ops.reconciliation_runs (
    run_id bigint generated always as identity primary key,
    since timestamptz not null,
    until timestamptz not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    recovered_into text,
    rest_requests integer not null default 0,
    error text,
    check (until > since)
);

create table ops.reconciliation (
    hour timestamptz not null,
    market_ticker text not null,
    exchange_trades integer not null check (exchange_trades >= 0),
    production_trades integer not null check (production_trades >= 0),
    missing integer not null check (missing >= 0),
    unexpected integer not null check (unexpected >= 0),
    duplicated integer not null check (duplicated >= 0),
    recovered integer not null default 0 check (recovered >= 0),
    run_id bigint not null references ops.reconciliation_runs (run_id),
    checked_at timestamptz not null default now(),
    primary key (hour, market_ticker)
);

create index reconciliation_run_idx on ops.reconciliation (run_id);

grant select, insert, update, delete on ops.reconciliation to kstore_dedup;
grant select, insert, update on ops.reconciliation_runs to kstore_dedup;
grant select on ops.reconciliation, ops.reconciliation_runs to kstore_analyst;

comment on table ops.reconciliation_runs is
'One row per kstore reconcile run: the window it checked and where it wrote what was missing.';
comment on column ops.reconciliation_runs.run_id is 'Run number.';
comment on column ops.reconciliation_runs.since is 'Start of the checked window (whole UTC hour).';
comment on column ops.reconciliation_runs.until is 'End of the checked window (exclusive).';
comment on column ops.reconciliation_runs.started_at is 'When the run began.';
comment on column ops.reconciliation_runs.finished_at is
'When the run ended; null: running or failed.';
comment on column ops.reconciliation_runs.recovered_into is
'Gatherer whose ts database received the missing trades (source rest); null: none reachable.';
comment on column ops.reconciliation_runs.rest_requests is 'REST requests the run sent.';
comment on column ops.reconciliation_runs.error is 'Why the run stopped early (one line).';

comment on table ops.reconciliation is
'Trades per market and UTC hour: on the exchange (GET /markets/trades, /historical/trades) '
'against production, as the newest check of that hour found them. Keyed by trade_id.';
comment on column ops.reconciliation.hour is 'Start of the UTC hour (trade ts in [hour, hour+1h)).';
comment on column ops.reconciliation.market_ticker is 'Market ticker.';
comment on column ops.reconciliation.exchange_trades is 'Trades in the exchange''s record.';
comment on column ops.reconciliation.production_trades is 'Trade rows in production.';
comment on column ops.reconciliation.missing is
'Exchange trades production lacks (by trade_id) at check time.';
comment on column ops.reconciliation.unexpected is
'Production trades the exchange does not list for that hour and market.';
comment on column ops.reconciliation.duplicated is
'Production rows beyond one per trade_id (a trade stored under two ts).';
comment on column ops.reconciliation.recovered is
'Missing trades this check wrote into a gatherer (source rest), merged by the deduplicator.';
comment on column ops.reconciliation.run_id is 'The run that made this check.';
comment on column ops.reconciliation.checked_at is 'When the check ran.';
