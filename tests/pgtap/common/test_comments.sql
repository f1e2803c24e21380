-- Every table and view of kstore and ops, and every column of them, carries a comment in every
-- database kind (sql/*/comments.sql; a view's in the file that defines it), so psql's \d+ and
-- dbt docs explain them; price columns name their unit (dollars) and size columns theirs
-- (contracts). A table, view or column added without its comment fails here: the failure lists
-- what lacks one. Partitions inherit nothing but are covered by their parent.

begin;
select plan(4);

create temporary view commented_tables as
select
    c.oid as relation,
    format('%I.%I', n.nspname, c.relname) as table_name,
    obj_description(c.oid, 'pg_class') as table_comment
from pg_class as c
inner join pg_namespace as n on c.relnamespace = n.oid
where n.nspname in ('kstore', 'ops') and c.relkind in ('r', 'p', 'v') and not c.relispartition;

create temporary view commented_columns as
select
    t.table_name || '.' || quote_ident(a.attname) as column_name,
    format_type(a.atttypid, a.atttypmod) as column_type,
    col_description(t.relation, a.attnum) as column_comment
from commented_tables as t
inner join pg_attribute as a on t.relation = a.attrelid
where a.attnum > 0 and not a.attisdropped;

select is_empty(
    $$select table_name from commented_tables where coalesce(table_comment, '') = ''$$,
    'every table and view of kstore and ops has a comment'
);
select is_empty(
    $$select column_name from commented_columns where coalesce(column_comment, '') = ''$$,
    'every column of every table and view of kstore and ops has a comment'
);
select is_empty(
    $$
        select column_name from commented_columns
        where column_type like 'numeric(10,6)%' and column_comment not ilike '%dollar%'
    $$,
    'every price column (numeric(10,6)) says it holds dollars'
);
select is_empty(
    $$
        select column_name from commented_columns
        where column_type like 'numeric(18,2)%' and column_comment not ilike '%contract%'
    $$,
    'every size column (numeric(18,2)) says it counts contracts'
);

select * from finish();  -- noqa: AM04
rollback;
