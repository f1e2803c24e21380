-- Sequence gaps reported by every gatherer, merged: one row per (gatherer, gap id), updated
-- when the gatherer marks the gap recovered.

create table kstore.feed_gaps (
    gatherer_id text not null,
    gap_id bigint not null,
    connection_id text not null,
    sid integer not null,
    channel text,
    expected_seq bigint not null,
    received_seq bigint not null,
    detected_at timestamptz not null,
    recovered_at timestamptz,
    recovery text,
    primary key (gatherer_id, gap_id)
);

create index feed_gaps_detected_at_idx on kstore.feed_gaps (detected_at);
