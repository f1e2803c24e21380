-- ops.keep_newest(): reference rows hold the newest version. An update is applied only when
-- the incoming version is newer by exchange updated_time (by observed_at when the exchange
-- sends none); ties and older versions keep what is there, identical content changes nothing.
-- One exception (decision 0024): when the current version came from a lifecycle frame
-- (version_source 'ws', its updated_time is the frame's receive time), an older version
-- completes it: it fills the columns the frame left empty and adds the raw fields it lacks,
-- never changing a value the frame set. changed_at and changed_xid are stamped on every
-- accepted change (changed_xid is the deduplicator's cursor).

create or replace function ops.keep_newest()
returns trigger
language plpgsql as $$
begin
    if tg_op = 'UPDATE' then
        if new.raw = old.raw then
            return null;
        end if;
        if not ops.is_newer(new.updated_time, new.observed_at, old.updated_time, old.observed_at)
        then
            if to_jsonb(old) ->> 'version_source' is distinct from 'ws' then
                return null;
            end if;
            new := ops.completed_version(old, new);
            if to_jsonb(new) = to_jsonb(old) then
                return null;
            end if;
        end if;
    end if;
    new.changed_at := clock_timestamp();
    new.changed_xid := pg_current_xact_id();
    return new;
end
$$;

-- ops.completed_version(current, older): the current version with its empty columns filled
-- from an older one and the older raw fields it lacks added; nothing the current one holds
-- changes (its updated_time, observed_at and source included).
create or replace function ops.completed_version(current_row anyelement, older_row anyelement)
returns anyelement
language sql immutable as $$
    select jsonb_populate_record(
        current_row,
        to_jsonb(older_row) || jsonb_strip_nulls(to_jsonb(current_row))
        || jsonb_build_object(
            'raw', (to_jsonb(older_row) -> 'raw') || (to_jsonb(current_row) -> 'raw')
        )
    )
$$;

create or replace function ops.is_newer(
    new_updated timestamptz, new_observed timestamptz,
    old_updated timestamptz, old_observed timestamptz
)
returns boolean
language sql immutable as $$
    select case
        when new_updated is not null and old_updated is not null then new_updated > old_updated
        when new_updated is not null then true
        when old_updated is not null then false
        else new_observed > old_observed
    end
$$;

create or replace trigger series_keep_newest
before insert or update on kstore.series
for each row execute function ops.keep_newest();

create or replace trigger events_keep_newest
before insert or update on kstore.events
for each row execute function ops.keep_newest();

create or replace trigger markets_keep_newest
before insert or update on kstore.markets
for each row execute function ops.keep_newest();
