-- ops.lake_check(dataset, window_start, checksum, problem): the outcome of a scrub reading a
-- verified window's object again (decision 0045), as recorded with `checksum`. No problem:
-- the object still matches its manifest row, which counts as a new verification
-- (verified_at = now). A problem (missing, wrong
-- size, checksum or rows): the window is no longer verified, so the exporter re-exports it
-- and guarded retention keeps its partition meanwhile; damage says why until it is verified
-- again. Returns whether the window was found as the scrub planned it (one re-opened or
-- re-exported meanwhile, with another checksum, is left alone).

drop function if exists ops.lake_check(text, timestamptz, text);
create or replace function ops.lake_check(
    dataset text, window_start timestamptz, checksum text, problem text
)
returns boolean
language sql as $$
    with checked as (
        update ops.export_manifest as m set
            scrubbed_at = now(),
            verified_at = case when problem is null then now() end,
            damage = problem,
            damaged_at = case when problem is not null then now() end
        where
            m.table_name = dataset
            and m.window_start = lake_check.window_start
            and m.verified_at is not null
            and m.checksum is not distinct from lake_check.checksum
        returning 1
    )

    select exists (select from checked)
$$;

-- ops.lake_damaged(dataset, window_start, reason): a damaged window the exporter could not
-- repair (production no longer holds its rows, or an old day's snapshot): the reason is kept
-- beside the damage for kstore status and the alert.
create or replace function ops.lake_damaged(dataset text, window_start timestamptz, reason text)
returns void
language sql as $$
    update ops.export_manifest as m
    set damage = split_part(m.damage, '; not repaired: ', 1) || '; not repaired: ' || reason
    where
        m.table_name = dataset
        and m.window_start = lake_damaged.window_start
        and m.damage is not null
        and m.verified_at is null
$$;

-- A window verified again (re-exported, or a scrub found it whole) is no longer damaged.
create or replace function ops.lake_clear_damage()
returns trigger
language plpgsql as $$
begin
    if new.verified_at is not null then
        new.damage := null;
        new.damaged_at := null;
    end if;
    return new;
end
$$;

create or replace trigger export_manifest_clear_damage
before insert or update on ops.export_manifest
for each row execute function ops.lake_clear_damage();

grant execute on function ops.lake_check(text, timestamptz, text, text) to kstore_exporter;
grant execute on function ops.lake_damaged(text, timestamptz, text) to kstore_exporter;
