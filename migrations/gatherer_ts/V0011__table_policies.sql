-- Declared storage policy per time-series table: chunk (partition) interval, compression
-- (TimescaleDB only) and retention horizon. Filled by policies/<tier>.sql, read by
-- ops.apply_policies() and ops.maintain(). retain_for null means keep forever.

create table ops.table_policies (
    table_name regclass primary key references ops.timeseries (table_name),
    chunk_interval interval not null default '1 day',
    compress_after interval,
    compress_segmentby text,
    compress_orderby text,
    retain_for interval,
    premake_days integer not null default 7 check (premake_days between 1 and 366),
    check (retain_for is null or retain_for >= chunk_interval)
);
