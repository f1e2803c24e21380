-- One row per run of the gatherer process: started when it begins capturing, stopped_at and
-- stopped_xid set by its last transaction, after every buffered row is committed. A run that
-- crashed keeps stopped_at null. The deduplicator reads the newest run (ops.capture_state) in
-- the same snapshot as the rows it pulls: a stopped run whose stopped_xid lies below the
-- horizon has every row it captured visible, so "merged and stopped" can be known exactly,
-- and the exporter may close the current window (decision 0015).

create table ops.capture_runs (
    run_id bigint generated always as identity primary key,
    started_at timestamptz not null default now(),
    stopped_at timestamptz,
    stopped_xid xid8
);

grant select, insert, update on ops.capture_runs to kstore_gatherer_writer;
