-- ops.retention_safe(...) on a gatherer: a partition may be dropped only when every row in it
-- has been merged into production, i.e. its xact_id is below the deduplicator's acknowledged
-- transaction horizon for that table (ops.dedup_ack.acked_xid). No acknowledgement means
-- nothing is safe.

create or replace function ops.retention_safe(
    relation regclass, part regclass, range_start timestamptz, range_end timestamptz
)
returns boolean
language plpgsql stable as $$
declare
    acked xid8;
    unsafe boolean;
begin
    select a.acked_xid into acked
    from ops.dedup_ack as a
    inner join pg_class as c on a.table_name = c.relname
    where c.oid = relation;
    if acked is null then
        return false;
    end if;
    execute format('select exists (select from %s where xact_id >= $1)', part)
    into unsafe using acked;
    return not unsafe;
end
$$;
