-- feed_gaps: every sequence gap a gatherer detected, and when a fresh snapshot recovered it.
-- quarantine: every frame that failed validation, with its raw bytes and the reason, so nothing
-- received is ever silently dropped.

create table kstore.feed_gaps (
    gap_id bigint generated always as identity primary key,
    gatherer_id text not null,
    connection_id text not null,
    sid integer not null,
    channel text,
    expected_seq bigint not null,
    received_seq bigint not null,
    detected_at timestamptz not null default clock_timestamp(),
    recovered_at timestamptz,
    recovery text
);

create index feed_gaps_detected_at_idx on kstore.feed_gaps (detected_at);

create table kstore.quarantine (
    quarantine_id bigint generated always as identity primary key,
    gatherer_id text not null,
    connection_id text,
    received_at timestamptz not null default clock_timestamp(),
    reason text not null,
    raw bytea not null
);

create index quarantine_received_at_idx on kstore.quarantine (received_at);
