-- The table catalog (decision 0016): one row per table of the `kstore` schema, the same rows in
-- every database kind, so each component asks the database which tables exist and how they
-- are written, merged, exported and backfilled instead of keeping its own list. The rows are
-- re-runnable data (sql/common/ops_tables.sql); keys come from the primary keys (ops.catalog).

-- Which kind of database this is, recorded once (the runner sets kstore.kind).
create table ops.database (
    singleton boolean primary key default true check (singleton),
    kind text not null check (kind in ('gatherer_ts', 'gatherer_rel', 'production'))
);

insert into ops.database (kind) values (current_setting('kstore.kind'));

create function ops.database_kind() returns text
language sql stable as $$ select kind from ops.database $$;

create table ops.tables (
    table_name name primary key,
    homes text[] not null check (
        homes <@ array['gatherer_ts', 'gatherer_rel', 'production'] and cardinality(homes) > 0
    ),
    family text not null check (family in ('timeseries', 'reference', 'history', 'log')),
    time_column name,
    merge text check (merge in ('pull', 'recent')),
    writer text,
    lake_grain text check (lake_grain in ('hour', 'day', 'snapshot')),
    lake_prefix text check (lake_prefix ~ '^[a-z_]+(/[a-z0-9_]+)+$'),
    backfill boolean not null default false,
    description text not null,
    check ((lake_grain is null) = (lake_prefix is null)),
    check (lake_grain = 'snapshot' or lake_grain is null or time_column is not null)
);
