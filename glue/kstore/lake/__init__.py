"""The Parquet lake: production exported to `raw/`, dbt layers to `processed/` and `aggregates/`.

- destination.py  where the lake lives (file:// or s3://) behind one interface: the DuckDB
                  connection (extensions, S3 secret), object URIs, listing, the boto3 client
- windows.py      datasets (the raw ones from production's table catalog) and their windows
- layout.py       lake layout 2 (decision 0040): partitions, production types → lake types
- catalog.py      `kstore lake catalog`: every dataset's DDL for DuckDB, Spark, Athena, Trino
- manifest.py     the calls into production's lake state machine (sql/production/ops_lake_*.sql:
                  close rule, window plan, changed windows, manifest records)
- export.py       `kstore export`: closed windows → verified Parquet (Exporter, export_windows)
- batches.py      the exporter's reads: a UTC day of production into DuckDB, one day ahead
- report.py       what an export did, per window and per dataset (ExportReport)
- lifecycle.py    `kstore lake init`: bucket and lifecycle rules from policies/lake_lifecycle.json
- query.py        `kstore query`: DuckDB views over the lake, read-only
- bench.py        `kstore bench export`
- testing.py      a local S3 server (moto) and sample production rows, for tests and the bench
"""
