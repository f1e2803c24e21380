-- The lake layout each manifest row's object was written in (decision 0040). Rows written before
-- this migration hold layout 1 (`date=`/`hour=HH` folders, uuid as Parquet UUID); the column
-- default is the layout the exporter writes now, and ops.lake_record stamps it on every record,
-- so a window re-exported after a layout change says so.

alter table ops.export_manifest add column layout_version smallint not null default 1
check (layout_version >= 1);
alter table ops.export_manifest alter column layout_version set default 2;
