-- ops.stamp_xact_id(): a row that is updated in place records the updating transaction in
-- xact_id, as an insert does through the column default, so the exporter's transaction-id
-- cursor (decision 0014) re-exports the lake window of a feed gap marked recovered later.

create or replace function ops.stamp_xact_id()
returns trigger
language plpgsql as $$
begin
    new.xact_id := pg_current_xact_id();
    return new;
end
$$;

create or replace trigger feed_gaps_stamp_xact_id
before update on kstore.feed_gaps
for each row execute function ops.stamp_xact_id();
