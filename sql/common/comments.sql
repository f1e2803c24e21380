-- Comments on the control tables every database kind has: the migration history and the table
-- catalog (decision 0016). Re-runnable; tests/pgtap/common/test_comments.sql fails on a table or
-- column of kstore or ops without a comment.

comment on table ops.schema_migrations is
'Every migration applied to this database, with its checksum: an edited applied file is '
'refused (decision 0006).';
comment on column ops.schema_migrations.version is 'The V#### number of the migration file.';
comment on column ops.schema_migrations.name is 'The name part of the file (V####__name.sql).';
comment on column ops.schema_migrations.sha256 is 'sha256 of the file as applied.';
comment on column ops.schema_migrations.applied_at is 'When it was applied.';

comment on table ops.database is 'Which kind of database this is (one row).';
comment on column ops.database.singleton is 'Always true: the table has one row.';
comment on column ops.database.kind is 'gatherer_ts, gatherer_rel or production.';

comment on table ops.tables is
'The table catalog (decision 0016): every table of schema kstore and what the components do '
'with it; rows from sql/common/ops_tables.sql, read through the view ops.catalog.';
comment on column ops.tables.table_name is 'Table of schema kstore.';
comment on column ops.tables.homes is 'The database kinds that hold the table.';
comment on column ops.tables.family is 'timeseries, reference, history or log.';
comment on column ops.tables.time_column is
'The column partitions, lake windows and retention cut on.';
comment on column ops.tables.merge is
'How production gets the gatherers'' rows: pull (by cursor), recent (re-read), null.';
comment on column ops.tables.writer is 'The gatherer writer pool (or the registry) writing it.';
comment on column ops.tables.lake_grain is 'hour or day windows, or a daily snapshot, in the lake.';
comment on column ops.tables.lake_prefix is 'Folder of the lake the table is exported under.';
comment on column ops.tables.backfill is 'Whether kstore backfill copies it between databases.';
comment on column ops.tables.description is 'One line on what the table holds.';
