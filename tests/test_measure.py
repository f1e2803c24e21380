"""kstore.bench.measure: the true median every benchmark reports, and CPU seconds per process."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from kstore.bench import measure


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


def test_cpu_of_counts_this_process_only():
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    probes = measure.probes(kstore=measure.this_process, children=measure.reaped_children)
    _, spent = measure.cpu_of(lambda: subprocess.run([sys.executable, "-c", busy], check=True),
                              probes)
    assert spent["children"] >= 0.3
    assert spent["kstore"] < spent["children"]


def test_tree_cpu_counts_live_and_reaped_descendants(tmp_path):
    """A server's cost includes processes under it that already ended (reaped by their parent),
    as PostgreSQL backends end and are reaped by the postmaster."""
    marker = tmp_path / "done"
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    root = subprocess.Popen(["sh", "-c", f'"{sys.executable}" -c "$0" && touch "$1"; sleep 30',
                             busy, str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists() and measure.tree_cpu(root.pid) >= 0.29
    finally:
        root.kill()
        root.wait()
