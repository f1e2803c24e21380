-- source_stopped_at: set by a pull that caught up with a gatherer whose newest capture run had
-- stopped, with every row of that run below the horizon (all merged); null while the gatherer
-- captures. When every live gatherer is stopped and merged no row can arrive for the current
-- window until one starts again, so the exporter closes it (decision 0015).

alter table ops.dedup_cursors add column source_stopped_at timestamptz;
