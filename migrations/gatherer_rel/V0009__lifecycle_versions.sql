-- Lifecycle frames are versions of markets and events (decision 0024). version_source says
-- which source made the current version: 'rest' (updated_time is the exchange's) or 'ws' (a
-- market_lifecycle_v2 / event_lifecycle frame; updated_time is its receive time). Markets also
-- keep the lifecycle fields that REST does not send.

alter table kstore.markets
add column version_source text not null default 'rest'
check (version_source in ('rest', 'ws')),
add column determination_ts timestamptz,
add column is_deactivated boolean;

alter table kstore.events
add column version_source text not null default 'rest'
check (version_source in ('rest', 'ws'));
