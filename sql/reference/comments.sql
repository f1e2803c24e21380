-- Comments on the reference tables a gatherer's rel database shares with production (series,
-- events, markets: REST objects, newest version wins through ops.keep_newest). Column names
-- follow the REST fields; prices are dollars as numeric(10,6), sizes contracts as
-- numeric(18,2). Re-runnable; tests/pgtap/common/test_comments.sql fails on a missing comment.

-- ---------------------------------------------------------------- kstore.series

comment on table kstore.series is
'Series (GET /series), the newest version per series_ticker; older versions in production''s '
'series_history.';
select ops.comment_columns('kstore.series', array[
    ['series_ticker', 'Series ticker (ticker), the key.'],
    ['frequency', 'How often events recur (frequency), as sent.'],
    ['tags', 'Tags as sent.'],
    ['fee_type', 'Fee schedule name (fee_type).'],
    ['fee_multiplier', 'Fee multiplier (fee_multiplier).'],
    ['contract_url', 'Link to the contract terms (contract_url).'],
    [
        'updated_time',
        'Exchange update time of this version, when sent; decides which version is newest.'
    ],
    [
        'observed_at',
        'Gatherer clock when this version was fetched (decides when updated_time is absent).'
    ]
]);

-- ---------------------------------------------------------------- kstore.events

comment on table kstore.events is
'Events (GET /events): a question with one or more markets, the newest version per '
'event_ticker.';
select ops.comment_columns('kstore.events', array[
    ['event_ticker', 'Event ticker, the key.'],
    ['series_ticker', 'Series of the event.'],
    ['sub_title', 'Subtitle as sent.'],
    ['collateral_return_type', 'How collateral is returned (collateral_return_type), as sent.'],
    ['mutually_exclusive', 'True when at most one market of the event can resolve YES.'],
    ['strike_date', 'Strike date, when sent.'],
    ['strike_period', 'Strike period, when sent.'],
    [
        'updated_time',
        'Exchange update time of this version, when sent; decides which version is newest.'
    ],
    [
        'observed_at',
        'Gatherer clock when this version was fetched (decides when updated_time is absent).'
    ],
    [
        'version_source',
        'rest: this version is a REST object (updated_time from the exchange); ws: an '
        'event_lifecycle frame (updated_time is its receive time). Decision 0024.'
    ]
]);

-- ---------------------------------------------------------------- kstore.markets

comment on table kstore.markets is
'Markets (GET /markets), one tradable contract each, the newest version per market_ticker '
'(newest exchange updated_time wins).';
select ops.comment_columns('kstore.markets', array[
    ['market_ticker', 'Market ticker (ticker), the key.'],
    ['event_ticker', 'Event of the market.'],
    ['series_ticker', 'Series of the market, when sent.'],
    ['market_type', 'Market type (binary, scalar), as sent.'],
    ['yes_sub_title', 'What YES means (yes_sub_title).'],
    ['no_sub_title', 'What NO means (no_sub_title).'],
    ['status', 'REST status as sent (initialized, active, closed, determined, finalized, ...).'],
    ['result', 'Outcome once determined (yes, no), as sent.'],
    ['created_time', 'When the market was created.'],
    ['open_time', 'When trading opens.'],
    ['close_time', 'When trading closes.'],
    ['expected_expiration_time', 'Expected expiration time.'],
    ['settlement_ts', 'When the market settled, when sent.'],
    ['settlement_value', 'Settlement value of YES in dollars (settlement_value_dollars).'],
    ['strike_type', 'Strike type, as sent.'],
    ['floor_strike', 'Lower strike, as sent (units of the market).'],
    ['cap_strike', 'Upper strike, as sent (units of the market).'],
    ['price_level_structure', 'Tick structure of the price levels, as sent.'],
    ['fractional_trading_enabled', 'True when sizes may have decimals (fractional contracts).'],
    ['yes_bid', 'Best YES bid in dollars when fetched (yes_bid_dollars).'],
    ['yes_ask', 'Best YES ask in dollars when fetched (yes_ask_dollars).'],
    ['last_price', 'Last traded price in dollars when fetched (last_price_dollars).'],
    ['volume', 'Contracts traded, 2 decimals (volume_fp).'],
    ['open_interest', 'Contracts outstanding, 2 decimals (open_interest_fp).'],
    ['updated_time', 'Exchange update time of this version; decides which version is newest.'],
    [
        'observed_at',
        'Gatherer clock when this version was fetched (decides when updated_time is absent).'
    ],
    [
        'raw',
        'The REST object as sent (jsonb), with the fields of newer lifecycle frames merged in '
        '(decision 0024).'
    ],
    [
        'version_source',
        'rest: this version is a REST object (updated_time from the exchange); ws: a '
        'market_lifecycle_v2 frame (updated_time is its receive time). Decision 0024.'
    ],
    ['determination_ts', 'When the market was determined (lifecycle determination_ts).'],
    ['is_deactivated', 'Pause flag of the last deactivated lifecycle frame (true: paused).']
]);
