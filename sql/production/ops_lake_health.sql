-- ops.lake_health: the lake's state per dataset, for `kstore status`, metrics and alerts
-- (decision 0045). A stable interface: columns are only ever added.
--   status    'damaged': a scrub found an object missing or different and it is not verified
--             again yet (detail says which, and why a re-export could not repair it);
--             'stale': a window guarded retention will judge (ops.lake_guarded_windows()) was
--             last verified longer ago than verified_within (retention keeps its partition
--             until a scrub verifies it again); else 'ok'.
--   pending   windows not yet (or no longer) verified for the ordinary reasons: closed and
--             waiting for export, or re-opened by late rows.
-- verified_within: the table's policy (ops.table_policies); null for tables retention keeps.

create or replace view ops.lake_health as
with windows as (
    select
        m.*,
        r.verified_within
    from ops.export_manifest as m
    left join ops.lake_guarded_windows() as r
        on m.table_name = r.table_name and m.window_start = r.window_start
),

datasets as (
    select
        w.table_name as dataset,
        count(*) as windows,
        count(*) filter (where w.verified_at is not null) as verified,
        count(*) filter (where w.verified_at is null and w.damage is null) as pending,
        count(*) filter (where w.damage is not null) as damaged,
        count(*) filter (where w.verified_at < now() - w.verified_within) as stale,
        min(w.verified_at) as oldest_verification,
        max(w.scrubbed_at) as last_scrub_at,
        min(w.verified_within) as verified_within,
        coalesce(sum(w.row_count) filter (where w.verified_at is not null), 0) as verified_rows,
        (
            array_agg(w.object_key || ': ' || w.damage order by w.damaged_at desc)
            filter (where w.damage is not null)
        )[1] as detail
    from windows as w
    group by w.table_name
)

select
    d.dataset,
    case when d.damaged > 0 then 'damaged' when d.stale > 0 then 'stale' else 'ok' end as status,
    d.windows,
    d.verified,
    d.pending,
    d.damaged,
    d.stale,
    d.verified_rows,
    d.oldest_verification,
    d.last_scrub_at,
    d.verified_within,
    d.detail
from datasets as d;

comment on view ops.lake_health is
'The lake per dataset: status ok|stale|damaged, windows verified, pending, damaged (a scrub '
'found the object missing or different), stale (verified longer ago than verified_within), '
'the last scrub and the newest damage (decision 0045).';
select ops.comment_columns('ops.lake_health', array[
    ['dataset', 'Table or dbt model exported (the manifest''s table_name).'],
    [
        'status',
        'damaged (a scrub found an object missing or different), stale (a guarded window '
        'verified longer ago than verified_within) or ok.'
    ],
    ['windows', 'Lake windows in the manifest.'],
    ['verified', 'Windows whose object was read back and matched.'],
    ['pending', 'Windows waiting for export or re-opened by late rows (no damage).'],
    ['damaged', 'Windows a scrub found damaged and not verified again yet.'],
    ['stale', 'Windows verified longer ago than verified_within.'],
    ['verified_rows', 'Rows in the verified windows.'],
    ['oldest_verification', 'Oldest verified_at of the dataset''s windows.'],
    ['last_scrub_at', 'When a scrub last read one of its objects.'],
    [
        'verified_within',
        'How recent a verification retention wants (the table''s policy); null: retention '
        'keeps the table.'
    ],
    ['detail', 'The newest damage: object key and what was wrong; null without damage.']
]);

grant select on ops.lake_health to kstore_exporter, kstore_analyst;
