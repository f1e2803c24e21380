-- ops.schema_migrations in every database (STYLE §3): one row per applied migration version,
-- with the file's name and a 64-hex sha256, so the runner can refuse a file edited after it
-- was applied. Which files each kind records is checked in its own folder.

begin;
select plan(5);

select col_is_pk('ops', 'schema_migrations', array['version'], 'one row per migration version');

select results_eq(
    $$
        select
            a.attname::text collate "default",
            format_type(a.atttypid, a.atttypmod),
            a.attnotnull
        from pg_attribute as a
        where a.attrelid = 'ops.schema_migrations'::regclass and a.attnum > 0
            and not a.attisdropped
        order by a.attnum
    $$,
    $$
        values
            ('version', 'integer', true),
            ('name', 'text', true),
            ('sha256', 'text', true),
            ('applied_at', 'timestamp with time zone', true)
    $$,
    'ops.schema_migrations(version, name, sha256, applied_at)'
);

select is_empty(
    $$select version from ops.schema_migrations where sha256 !~ '^[0-9a-f]{64}$'$$,
    'every recorded checksum is a lower-case 64-hex sha256'
);

select is_empty(
    $$select version from ops.schema_migrations where applied_at > now()$$,
    'no migration is recorded as applied in the future'
);

select throws_ok(
    $$insert into ops.schema_migrations (version, name, sha256) values (1, 'again', 'x')$$,
    '23505', null,
    'a version cannot be recorded twice'
);

select * from finish();  -- noqa: AM04
rollback;
