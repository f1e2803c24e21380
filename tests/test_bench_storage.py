"""`kstore bench storage`, run small through the real CLI: the plain path always, TimescaleDB
where the server has it (else the bench prints why it skipped it, and so does this test)."""

from __future__ import annotations

import re

import pytest

from conftest import PG_BIN, run_kstore
from kstore.testing import storage_paths

SMALL = ("bench", "storage", "--trades", "2000", "--deltas", "6000", "--markets", "20")
ROW = re.compile(r"^\| (\w+) \| (\w+) \| (\d+) \| ([\d.]+) \| ([\d.-]+) \| ([\d.]+×|-) \|", re.M)


def test_bench_storage_small():
    result = run_kstore(*SMALL, env={"KSTORE_PG_BIN": str(PG_BIN)}, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = {(m[0], m[1]): m for m in ROW.findall(result.stdout)}
    expected = {"trades": "2000", "orderbook_deltas": "6000"}
    for table, count in expected.items():
        plain = rows[(table, "plain")]
        assert plain[2] == count and float(plain[3]) > 0 and plain[4] == "-"
    reason = storage_paths(PG_BIN)["timescaledb"]
    if reason:
        assert f"timescaledb skipped: {reason}" in result.stdout
        print(f"TimescaleDB path not measured: {reason}")
        return
    for table, count in expected.items():
        tsdb = rows[(table, "timescaledb")]
        assert tsdb[2] == count
        heap, compressed = float(tsdb[3]), float(tsdb[4])
        assert 0 < compressed < heap, f"{table}: compression made rows no smaller"
        assert f"{table} compressed, bytes per row of its heaviest columns:" in result.stdout


@pytest.mark.parametrize("argument", ["--trades=0", "--days=-1", "--markets=x"])
def test_bench_storage_bad_argument_is_one_line(argument):
    result = run_kstore("bench", "storage", argument)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) <= 2 and "Traceback" not in result.stderr
