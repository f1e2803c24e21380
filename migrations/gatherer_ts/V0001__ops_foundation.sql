-- Foundation of a time-series database: the `kstore` data schema, the `ops` control schema,
-- the storage path chosen at migration time (TimescaleDB or native partitions), and the one
-- function that turns a plain table into a hypertable or a day-partitioned table.
-- The runner sets `kstore.storage` (timescaledb|plain); without it, TimescaleDB is used when
-- the server preloads it.

create schema if not exists kstore;
create schema if not exists ops;

create table ops.storage (
    singleton boolean primary key default true check (singleton),
    path text not null check (path in ('timescaledb', 'plain')),
    chosen_at timestamptz not null default now()
);

insert into ops.storage (path)
select
    coalesce(
        nullif(current_setting('kstore.storage', true), ''),
        case
            when current_setting('shared_preload_libraries') like '%timescaledb%'
                then 'timescaledb'
            else 'plain'
        end
    ) as path;

create function ops.storage_path() returns text
language sql stable as $$ select path from ops.storage $$;

do $$
begin
    if ops.storage_path() = 'timescaledb' then
        create extension if not exists timescaledb with schema public;
    end if;
end
$$;

-- Every time-series table, with its time column: maintenance works from this list.
create table ops.timeseries (
    table_name regclass primary key,
    time_column name not null
);
