-- The reference history and the merged feed gaps go to the lake (decision 0046) with the same
-- verified windows as the time series: xact_id, the transaction that last wrote a row, lets
-- the exporter's transaction-id cursor find the windows that changed (a new version, a gap
-- marked recovered) after they were exported. Rows already there get this migration's id.

alter table kstore.series_history
add column xact_id xid8 not null default pg_current_xact_id();
alter table kstore.events_history
add column xact_id xid8 not null default pg_current_xact_id();
alter table kstore.markets_history
add column xact_id xid8 not null default pg_current_xact_id();
alter table kstore.feed_gaps
add column xact_id xid8 not null default pg_current_xact_id();

create index series_history_xact_id_idx on kstore.series_history (xact_id);
create index events_history_xact_id_idx on kstore.events_history (xact_id);
create index markets_history_xact_id_idx on kstore.markets_history (xact_id);
create index feed_gaps_xact_id_idx on kstore.feed_gaps (xact_id);

comment on column kstore.series_history.xact_id is
'Transaction that wrote the row (the exporter''s change cursor).';
comment on column kstore.events_history.xact_id is
'Transaction that wrote the row (the exporter''s change cursor).';
comment on column kstore.markets_history.xact_id is
'Transaction that wrote the row (the exporter''s change cursor).';
comment on column kstore.feed_gaps.xact_id is
'Transaction that last inserted or updated the row (the exporter''s change cursor).';
