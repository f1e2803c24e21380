"""`kstore lake init [--check]`: the lake's bucket and its lifecycle rules (S3 only).

The rules are declared in policies/lake_lifecycle.json (relative to the lake root): raw/ to
Glacier (settings.lake.glacier_class) after 30 days, processed/ to STANDARD_IA after 90,
aggregates/ untouched, unfinished multipart uploads aborted after 7 days. `init` creates the
bucket when it is missing (and the credentials allow it), writes the rules, reads them back and
fails if the bucket does not hold them. `--check` changes nothing: it reports drift and exits 1
if the bucket's rules differ. Rules of the bucket that are not this lake's are kept as they are.
Only GLACIER_IR keeps raw/ readable in place: GLACIER and DEEP_ARCHIVE objects need a restore
before DuckDB, Athena or Spark can read them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kstore.lake.destination import LocalLake, S3Lake, open_lake
from kstore.settings import Settings

POLICY = Path("policies") / "lake_lifecycle.json"
GLACIER_PLACEHOLDER = "GLACIER_CLASS"


def desired_rules(settings: Settings, lake: S3Lake) -> list[dict]:
    """The policy's rules as the S3 API spells them, for this lake's prefix and glacier class."""
    policy = json.loads((settings.repo_root / POLICY).read_text())
    rules = []
    for rule in policy["rules"]:
        entry = {"ID": f"kstore:{lake.prefix}{rule['id']}", "Status": "Enabled",
                 "Filter": {"Prefix": lake.prefix + rule["prefix"]}}
        transitions = [{"Days": step["days"], "StorageClass": settings.lake.glacier_class
                        if step["storage_class"] == GLACIER_PLACEHOLDER else step["storage_class"]}
                       for step in rule.get("transitions", [])]
        if transitions:
            entry["Transitions"] = transitions
        if "abort_incomplete_multipart_upload_days" in rule:
            entry["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": rule["abort_incomplete_multipart_upload_days"]}
        rules.append(entry)
    return rules


def _normal(rule: dict) -> dict:
    """The parts of a rule this lake declares, in a comparable form."""
    prefix = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))
    return {"ID": rule.get("ID"), "Status": rule.get("Status"), "Prefix": prefix,
            "Transitions": sorted((t.get("Days"), t.get("StorageClass"))
                                  for t in rule.get("Transitions", [])),
            "Abort": rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation")}


def _ours(rule_id: str, lake: S3Lake) -> bool:
    own = f"kstore:{lake.prefix}"
    return rule_id.startswith(own) and "/" not in rule_id[len(own):]


@dataclass
class Drift:
    missing_bucket: bool = False
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.missing_bucket or bool(self.missing or self.changed or self.stale)

    def lines(self) -> list[str]:
        return ((["bucket does not exist"] if self.missing_bucket else [])
                + [f"missing rule {rule}" for rule in self.missing]
                + [f"rule differs: {change}" for change in self.changed]
                + [f"rule no longer declared: {rule}" for rule in self.stale])


def current_rules(lake: S3Lake) -> list[dict]:
    from botocore.exceptions import ClientError

    try:
        return lake.client.get_bucket_lifecycle_configuration(Bucket=lake.bucket)["Rules"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchLifecycleConfiguration":
            return []
        raise


def drift(desired: list[dict], current: list[dict], lake: S3Lake) -> Drift:
    found = Drift()
    have = {rule.get("ID"): _normal(rule) for rule in current}
    for rule in map(_normal, desired):
        if rule["ID"] not in have:
            found.missing.append(rule["ID"])
        elif have[rule["ID"]] != rule:
            found.changed.append(f"{rule['ID']}: bucket has {have[rule['ID']]}, policy {rule}")
    wanted = {rule["ID"] for rule in desired}
    found.stale = [rid for rid in have if rid and _ours(rid, lake) and rid not in wanted]
    return found


def bucket_exists(lake: S3Lake) -> bool:
    from botocore.exceptions import ClientError

    try:
        lake.client.head_bucket(Bucket=lake.bucket)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise


def create_bucket(lake: S3Lake, region: str) -> None:
    options = {} if region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}
    lake.client.create_bucket(Bucket=lake.bucket, **options)


def apply(settings: Settings, lake: S3Lake, check: bool) -> tuple[Drift, list[str]]:
    """Returns the drift found before any change, and what was done."""
    done: list[str] = []
    if not bucket_exists(lake):
        if check:
            return Drift(missing_bucket=True), done
        create_bucket(lake, settings.lake.s3_region)
        done.append(f"created bucket {lake.bucket}")
    desired = desired_rules(settings, lake)
    current = current_rules(lake)
    before = drift(desired, current, lake)
    if before and not check:
        foreign = [rule for rule in current if not _ours(rule.get("ID", ""), lake)]
        lake.client.put_bucket_lifecycle_configuration(
            Bucket=lake.bucket, LifecycleConfiguration={"Rules": foreign + desired})
        done.append(f"applied {len(desired)} rule(s), kept {len(foreign)} other rule(s)")
        after = drift(desired, current_rules(lake), lake)
        if after:
            raise RuntimeError("bucket rules differ after applying them: "
                               + "; ".join(after.lines()))
    return before, done


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore lake init` (the CLI adds them to its subcommand)."""
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if the bucket or its rules differ")


def main(settings: Settings, args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    lake = open_lake(settings)
    if isinstance(lake, LocalLake):
        if not args.check:
            lake.root.mkdir(parents=True, exist_ok=True)
        print(f"lake {lake.url}: local folder; lifecycle rules apply to S3 only, nothing to do")
        return 0
    try:
        before, done = apply(settings, lake, args.check)
    except (ClientError, BotoCoreError, RuntimeError) as exc:
        print(f"kstore lake init: error: {lake.url}: {str(exc).strip().splitlines()[0]}",
              file=sys.stderr)
        return 1
    for line in before.lines():
        print(f"lake {lake.url}: drift: {line}")
    for line in done:
        print(f"lake {lake.url}: {line}")
    if args.check:
        print(f"lake {lake.url}: {'rules differ from' if before else 'rules match'} {POLICY}")
        return 1 if before else 0
    print(f"lake {lake.url}: lifecycle rules match {POLICY}")
    return 0
