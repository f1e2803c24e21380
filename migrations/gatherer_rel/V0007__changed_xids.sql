-- Reference rows record the transaction that last changed them (set by ops.keep_newest), the
-- deduplicator's cursor for mutable rows (decision 0012).

alter table kstore.series add column changed_xid xid8 not null default pg_current_xact_id();
alter table kstore.events add column changed_xid xid8 not null default pg_current_xact_id();
alter table kstore.markets add column changed_xid xid8 not null default pg_current_xact_id();

create index series_changed_xid_idx on kstore.series (changed_xid);
create index events_changed_xid_idx on kstore.events (changed_xid);
create index markets_changed_xid_idx on kstore.markets (changed_xid);
