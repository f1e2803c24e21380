-- The journal's durable watermark (decision 0036): per gatherer, the highest journal sequence
-- number up to which every frame's rows are committed, in which journal (its JOURNAL_ID), and
-- the stream state after that frame that a recovery must continue from (last seq per sid of
-- the live connection). Written by the gatherer about every second, after the barrier; read at
-- start, when the frames after it are applied again.

create table ops.journal_checkpoints (
    gatherer_id text primary key,
    journal_id text not null,
    seq bigint not null,
    received_at timestamptz,
    state jsonb not null default '{}'::jsonb,
    checkpointed_at timestamptz not null default now()
);

grant select, insert, update on ops.journal_checkpoints to kstore_gatherer_writer;
