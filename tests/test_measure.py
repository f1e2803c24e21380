"""kstore.bench.measure: the true median every benchmark reports, and CPU seconds per process."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from kstore.bench import measure

BUSY = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"


@pytest.mark.parametrize("values, expected", [
    ([2.0], 2.0),
    ([1.0, 5.0], 3.0),  # two runs: their mean, not the larger one
    ([3.0, 1.0, 2.0], 2.0),
    ([4.0, 1.0, 3.0, 2.0], 2.5),
])
def test_median_is_the_middle_value_or_the_mean_of_the_two_middle_values(values, expected):
    assert measure.median(values) == expected
    runs = measure.Runs()
    for value in values:
        runs.add(value, {"kstore": value})
    assert runs.median() == expected and runs.median_cpu() == {"kstore": expected}


def test_spread_prints_the_median_and_range_of_per_run_ratios():
    assert measure.spread([4.0, 1.0]) == "median 2.50x, range 1.00-4.00x"


def test_a_child_is_measured_apart_from_this_process():
    child = subprocess.Popen([sys.executable, "-c", BUSY])
    child_cpu, spent = measure.cpu_of(lambda: measure.exited_cpu(child, timeout=60),
                                      measure.probes(kstore=measure.this_process))
    assert child.returncode == 0 and child_cpu >= 0.29
    assert spent["kstore"] < child_cpu


def test_tree_cpu_counts_live_and_reaped_descendants(tmp_path):
    """A server's cost includes processes under it that already ended (reaped by their parent),
    as PostgreSQL backends end and are reaped by the postmaster."""
    marker = tmp_path / "done"
    root = subprocess.Popen(["sh", "-c", f'"{sys.executable}" -c "$0" && touch "$1"; exec sleep 30',
                             BUSY, str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists() and measure.tree_cpu(root.pid) >= 0.29
    finally:
        root.kill()
        root.wait()
