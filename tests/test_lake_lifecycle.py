"""`kstore lake init [--check]` (kstore.lake.lifecycle) against a real local S3 server (moto):
the bucket's lifecycle rules are written from policies/lake_lifecycle.json and read back."""

from __future__ import annotations

import argparse

import pytest

from kstore.lake import lifecycle
from kstore.lake.destination import open_lake
from kstore.lake.testing import S3Server
from kstore.settings import load


@pytest.fixture(scope="module")
def s3():
    server = S3Server().start()
    yield server
    server.stop()


def settings_for(s3: S3Server, url: str, **lake):
    return load(None, lake=s3.lake_settings(url) | lake)


def init(settings, capsys, check: bool = False) -> tuple[int, str]:
    code = lifecycle.main(settings, argparse.Namespace(check=check))
    out, err = capsys.readouterr()
    return code, out + err


def rules_by_prefix(settings) -> dict[str, dict]:
    lake = open_lake(settings)
    rules = lake.client.get_bucket_lifecycle_configuration(Bucket=lake.bucket)["Rules"]
    return {rule["Filter"].get("Prefix", ""): rule for rule in rules}


def test_init_creates_the_bucket_and_rules_that_read_back(s3, capsys):
    settings = settings_for(s3, "s3://lake-life/kstore")

    assert init(settings, capsys, check=True) == (1, (
        "lake s3://lake-life/kstore: drift: bucket does not exist\n"
        "lake s3://lake-life/kstore: rules differ from policies/lake_lifecycle.json\n"))
    code, out = init(settings, capsys)
    assert code == 0 and "created bucket lake-life" in out

    rules = rules_by_prefix(settings)
    assert rules["kstore/raw/"]["Transitions"] == [{"Days": 30, "StorageClass": "GLACIER_IR"}]
    assert rules["kstore/processed/"]["Transitions"] == [
        {"Days": 90, "StorageClass": "STANDARD_IA"}]
    assert rules["kstore/"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert not any(prefix.startswith("kstore/aggregates") for prefix in rules)
    assert init(settings, capsys, check=True)[0] == 0


def test_check_reports_drift_and_init_repairs_it_keeping_other_rules(s3, capsys):
    settings = settings_for(s3, "s3://lake-drift")
    lake = open_lake(settings)
    lake.client.create_bucket(Bucket="lake-drift")
    foreign = {"ID": "someone-else", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
               "Expiration": {"Days": 14}}
    edited = {"ID": "kstore:raw", "Status": "Enabled", "Filter": {"Prefix": "raw/"},
              "Transitions": [{"Days": 60, "StorageClass": "GLACIER"}]}
    lake.client.put_bucket_lifecycle_configuration(
        Bucket="lake-drift", LifecycleConfiguration={"Rules": [foreign, edited]})

    code, out = init(settings, capsys, check=True)
    assert code == 1 and "rule differs: kstore:raw" in out
    assert "missing rule kstore:processed" in out
    assert rules_by_prefix(settings)["raw/"]["Transitions"][0]["Days"] == 60, "check: no change"

    deep = settings_for(s3, "s3://lake-drift", glacier_class="DEEP_ARCHIVE")
    assert init(deep, capsys)[0] == 0
    rules = rules_by_prefix(deep)
    assert rules["raw/"]["Transitions"] == [{"Days": 30, "StorageClass": "DEEP_ARCHIVE"}]
    assert rules["logs/"]["ID"] == "someone-else", "rules that are not the lake's stay"
    assert init(deep, capsys, check=True)[0] == 0


def test_a_local_lake_has_no_lifecycle_rules(tmp_path, capsys):
    settings = load(None, lake={"url": f"file://{tmp_path}/lake"})
    code, out = init(settings, capsys)
    assert code == 0 and "lifecycle rules apply to S3 only" in out
    assert (tmp_path / "lake").is_dir()
