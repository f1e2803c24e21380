-- Comments on the reference tables a gatherer's rel database shares with production (series,
-- events, markets: REST objects, newest version wins through ops.keep_newest). Column names
-- follow the REST fields; prices are dollars as numeric(10,6), sizes contracts as
-- numeric(18,2). Re-runnable; tests/pgtap/common/test_comments.sql fails on a missing comment.

-- ---------------------------------------------------------------- kstore.series

comment on table kstore.series is
'Series (GET /series), the newest version per series_ticker; older versions in production''s '
'series_history.';
comment on column kstore.series.series_ticker is 'Series ticker (ticker), the key.';
comment on column kstore.series.title is 'Title as sent.';
comment on column kstore.series.category is 'Category as sent.';
comment on column kstore.series.frequency is 'How often events recur (frequency), as sent.';
comment on column kstore.series.tags is 'Tags as sent.';
comment on column kstore.series.fee_type is 'Fee schedule name (fee_type).';
comment on column kstore.series.fee_multiplier is 'Fee multiplier (fee_multiplier).';
comment on column kstore.series.contract_url is 'Link to the contract terms (contract_url).';
comment on column kstore.series.updated_time is
'Exchange update time of this version, when sent; decides which version is newest.';
comment on column kstore.series.observed_at is
'Gatherer clock when this version was fetched (decides when updated_time is absent).';
comment on column kstore.series.changed_at is
'Local time the row last changed (set by ops.keep_newest).';
comment on column kstore.series.raw is 'The REST object exactly as sent (jsonb).';
comment on column kstore.series.content_hash is 'md5 of raw: identifies a version.';
comment on column kstore.series.changed_xid is
'Transaction that last changed the row: the deduplicator''s cursor (decision 0012).';

-- ---------------------------------------------------------------- kstore.events

comment on table kstore.events is
'Events (GET /events): a question with one or more markets, the newest version per '
'event_ticker.';
comment on column kstore.events.event_ticker is 'Event ticker, the key.';
comment on column kstore.events.series_ticker is 'Series of the event.';
comment on column kstore.events.title is 'Title as sent.';
comment on column kstore.events.sub_title is 'Subtitle as sent.';
comment on column kstore.events.category is 'Category as sent.';
comment on column kstore.events.collateral_return_type is
'How collateral is returned (collateral_return_type), as sent.';
comment on column kstore.events.mutually_exclusive is
'True when at most one market of the event can resolve YES.';
comment on column kstore.events.strike_date is 'Strike date, when sent.';
comment on column kstore.events.strike_period is 'Strike period, when sent.';
comment on column kstore.events.updated_time is
'Exchange update time of this version, when sent; decides which version is newest.';
comment on column kstore.events.observed_at is
'Gatherer clock when this version was fetched (decides when updated_time is absent).';
comment on column kstore.events.changed_at is
'Local time the row last changed (set by ops.keep_newest).';
comment on column kstore.events.raw is 'The REST object exactly as sent (jsonb).';
comment on column kstore.events.content_hash is 'md5 of raw: identifies a version.';
comment on column kstore.events.changed_xid is
'Transaction that last changed the row: the deduplicator''s cursor (decision 0012).';

-- ---------------------------------------------------------------- kstore.markets

comment on table kstore.markets is
'Markets (GET /markets), one tradable contract each, the newest version per market_ticker '
'(newest exchange updated_time wins).';
comment on column kstore.markets.market_ticker is 'Market ticker (ticker), the key.';
comment on column kstore.markets.event_ticker is 'Event of the market.';
comment on column kstore.markets.series_ticker is 'Series of the market, when sent.';
comment on column kstore.markets.market_type is 'Market type (binary, scalar), as sent.';
comment on column kstore.markets.title is 'Title as sent.';
comment on column kstore.markets.yes_sub_title is 'What YES means (yes_sub_title).';
comment on column kstore.markets.no_sub_title is 'What NO means (no_sub_title).';
comment on column kstore.markets.status is
'REST status as sent (initialized, active, closed, determined, finalized, ...).';
comment on column kstore.markets.result is 'Outcome once determined (yes, no), as sent.';
comment on column kstore.markets.created_time is 'When the market was created.';
comment on column kstore.markets.open_time is 'When trading opens.';
comment on column kstore.markets.close_time is 'When trading closes.';
comment on column kstore.markets.expected_expiration_time is 'Expected expiration time.';
comment on column kstore.markets.settlement_ts is 'When the market settled, when sent.';
comment on column kstore.markets.settlement_value is
'Settlement value of YES in dollars (settlement_value_dollars).';
comment on column kstore.markets.strike_type is 'Strike type, as sent.';
comment on column kstore.markets.floor_strike is 'Lower strike, as sent (units of the market).';
comment on column kstore.markets.cap_strike is 'Upper strike, as sent (units of the market).';
comment on column kstore.markets.price_level_structure is
'Tick structure of the price levels, as sent.';
comment on column kstore.markets.fractional_trading_enabled is
'True when sizes may have decimals (fractional contracts).';
comment on column kstore.markets.yes_bid is
'Best YES bid in dollars when fetched (yes_bid_dollars).';
comment on column kstore.markets.yes_ask is
'Best YES ask in dollars when fetched (yes_ask_dollars).';
comment on column kstore.markets.last_price is
'Last traded price in dollars when fetched (last_price_dollars).';
comment on column kstore.markets.volume is 'Contracts traded, 2 decimals (volume_fp).';
comment on column kstore.markets.open_interest is
'Contracts outstanding, 2 decimals (open_interest_fp).';
comment on column kstore.markets.updated_time is
'Exchange update time of this version; decides which version is newest.';
comment on column kstore.markets.observed_at is
'Gatherer clock when this version was fetched (decides when updated_time is absent).';
comment on column kstore.markets.changed_at is
'Local time the row last changed (set by ops.keep_newest).';
comment on column kstore.markets.raw is
'The REST object exactly as sent (jsonb), including fields without a column.';
comment on column kstore.markets.content_hash is 'md5 of raw: identifies a version.';
comment on column kstore.markets.changed_xid is
'Transaction that last changed the row: the deduplicator''s cursor (decision 0012).';
