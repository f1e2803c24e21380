-- ops.lake_mark_since(dataset, since): re-opens every verified window of the dataset ending
-- after `since` (a rebuilt dbt model says what it rebuilt). Returns the windows re-opened.

create or replace function ops.lake_mark_since(dataset text, since timestamptz)
returns integer
language sql as $$
    with marked as (
        update ops.export_manifest as m set verified_at = null
        where m.table_name = dataset and m.window_end > since and m.verified_at is not null
        returning 1
    )

    select count(*)::integer from marked
$$;
