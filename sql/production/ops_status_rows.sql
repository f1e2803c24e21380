-- ops.status_summary(relation): a summary of an optional status relation (ops.reconciliation
-- from `kstore reconcile`, a lake health view from `kstore lake verify`) without knowing its
-- columns: {"rows": n, "totals": {column: sum of its numbers, identifiers (*_id) left out},
-- "newest": {column: greatest value of each *_at / *_until column}}. Null when the relation does
-- not exist (yet) or is not readable, so `kstore status` reports what is there and skips what
-- is not.

create or replace function ops.status_summary(relation text)
returns jsonb
language plpgsql stable as $$
declare
    summary jsonb;
begin
    if to_regclass(relation) is null
        or not has_table_privilege(to_regclass(relation), 'select') then
        return null;
    end if;
    execute format(
        'with fields as (select f.key, f.value from %s as r '
        'cross join lateral jsonb_each(to_jsonb(r)) as f (key, value)) '
        'select jsonb_build_object('
        '''rows'', (select count(*) from %1$s), '
        '''totals'', (select coalesce(jsonb_object_agg(key, total), ''{}'') from ('
        'select key, sum((value #>> ''{}'')::numeric) as total from fields '
        'where jsonb_typeof(value) = ''number'' and key !~ ''_id$'' group by key) as n), '
        '''newest'', (select coalesce(jsonb_object_agg(key, newest), ''{}'') from ('
        'select key, max(value #>> ''{}'') as newest from fields '
        'where key ~ ''(_at|_until)$'' and jsonb_typeof(value) = ''string'' group by key) as t))',
        to_regclass(relation)
    ) into summary;
    return summary;
end
$$;
