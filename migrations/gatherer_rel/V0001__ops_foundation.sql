-- Foundation of a reference-data database: the `kstore` data schema and the `ops` control
-- schema. Reference data is small and mutable, so it lives in plain tables on every path.

create schema if not exists kstore;
create schema if not exists ops;
