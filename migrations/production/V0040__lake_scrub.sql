-- The lake scrub (decision 0045): `kstore lake verify` and the exporter's rolling scrub read
-- verified objects again and compare them with their manifest row. verified_at becomes the
-- newest verification (at write time or by a scrub); a scrub that finds an object missing or
-- different clears it and says why in damage, until the window is verified again. Production
-- retention wants a verification newer than the table's verified_within.

alter table ops.export_manifest
add column scrubbed_at timestamptz,
add column damage text,
add column damaged_at timestamptz;

create index export_manifest_scrub_idx on ops.export_manifest (verified_at)
where verified_at is not null;

create index export_manifest_damage_idx on ops.export_manifest (table_name)
where damage is not null;

alter table ops.table_policies
add column verified_within interval not null default '7 days'
check (verified_within > interval '0');

comment on column ops.export_manifest.scrubbed_at is
'When a scrub (kstore lake verify, the exporter''s rolling scrub) last read the object again.';
comment on column ops.export_manifest.damage is
'What the last scrub found wrong with the object (missing, size, checksum, rows), and why a '
're-export could not repair it; null once the window is verified again.';
comment on column ops.export_manifest.damaged_at is
'When a scrub found the object damaged; null once the window is verified again.';
comment on column ops.table_policies.verified_within is
'Production only: guarded retention drops a partition only when every lake window covering it '
'was verified (at export or by a scrub) within this interval.';
