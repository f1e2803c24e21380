-- The merged feed_gaps carries what the gatherers now record for every break in the feed
-- (decision 0021): its cause, the order book it affects, and the span from the last frame
-- received before it to the first after it; a break that is not a seq jump has no seq.

alter table kstore.feed_gaps alter column expected_seq drop not null;
alter table kstore.feed_gaps alter column received_seq drop not null;
alter table kstore.feed_gaps add column cause text not null default 'seq_jump';
alter table kstore.feed_gaps add column market_ticker text;
alter table kstore.feed_gaps add column last_frame_at timestamptz;
alter table kstore.feed_gaps add column resumed_at timestamptz;
