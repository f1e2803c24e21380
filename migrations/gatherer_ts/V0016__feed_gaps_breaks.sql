-- feed_gaps records every break in the feed, not only seq jumps (decision 0021): a reconnect
-- (silence, close by the server, error) or a subscription the exchange dropped (error 25) is a
-- row per affected subscription, per order book for book subscriptions, with its cause and the
-- span from the last frame received before it to the first after it. Such a break has no seq.

alter table kstore.feed_gaps alter column expected_seq drop not null;
alter table kstore.feed_gaps alter column received_seq drop not null;
alter table kstore.feed_gaps add column cause text not null default 'seq_jump';
alter table kstore.feed_gaps add column market_ticker text;
alter table kstore.feed_gaps add column last_frame_at timestamptz;
alter table kstore.feed_gaps add column resumed_at timestamptz;
