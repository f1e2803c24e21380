"""The Prometheus endpoints (docs/status.md), scraped by a real HTTP client (httpx) while
`kstore up` runs in a throw-away home: a gatherer's, the deduplicator's and the exporter's
/metrics carry the named series, with values from the running platform."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import PG_BIN, REPO_ROOT, kstore_env, run_kstore


def free_ports(count: int) -> int:
    """The first of `count` consecutive ports nobody listens on."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count < 65536 and all(_bindable(base + i) for i in range(count)):
            return base
    raise RuntimeError("no consecutive free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of the endpoint: (name, sorted labels) → value; empty if not answering."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    except httpx.HTTPError:
        return {}
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def named(samples: dict, name: str) -> list[float]:
    return [v for (sample, _), v in samples.items() if sample == name]


def scrape_until(port: int, up: subprocess.Popen, timeout: float, name: str,
                 **labels: str) -> dict:
    """Scrapes the endpoint until sample `name{labels}` is there with a value > 0 (or, with no
    labels, any sample of `name` is there); returns every sample of that scrape."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples = scrape(port)
        if (value(samples, name, **labels) or 0) > 0 if labels else named(samples, name):
            return samples
        assert up.poll() is None, f"kstore up ended before {name}{labels} on port {port}"
        time.sleep(1)
    raise AssertionError(f"not within {timeout} s: {name}{labels} on port {port}")


@pytest.fixture
def home():
    path = Path(tempfile.mkdtemp(prefix="kstore-metrics-"))
    path.chmod(0o755)  # as root, the postgres user must reach the clusters
    yield path
    run_kstore("db", "down", env={"KSTORE_HOME": str(path), "KSTORE_PG_BIN": str(PG_BIN)})
    shutil.rmtree(path, ignore_errors=True)


def test_every_component_serves_its_metrics_during_kstore_up(home):
    base = free_ports(6)
    gather, dedup, export = base, base + 4, base + 5
    env = {"KSTORE_HOME": str(home), "KSTORE_PG_BIN": str(PG_BIN), "KSTORE_TIMESCALEDB": "off",
           "KSTORE_METRICS__GATHER_PORT": str(gather), "KSTORE_METRICS__DEDUP_PORT": str(dedup),
           "KSTORE_METRICS__EXPORT_PORT": str(export),
           "KSTORE_METRICS__REFRESH_INTERVAL": "1"}
    up = subprocess.Popen([sys.executable, "-m", "kstore.cli", "up", "--seed", "3",
                           "--duration", "40", "--rate", "300"], cwd=REPO_ROOT,
                          env=kstore_env(env), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        g2 = scrape_until(gather + 1, up, 240, "kstore_gather_rows_total", gatherer="g2",
                          table="trades")
        assert value(g2, "kstore_gather_frames_total", gatherer="g2") > 0
        assert value(g2, "kstore_gather_quarantined_frames_total", gatherer="g2") is not None
        assert value(g2, "kstore_gather_writer_backlog_rows", gatherer="g2",
                     table="trades") is not None
        assert value(g2, "kstore_rest_requests_total", client="g2") > 0
        assert value(g2, "kstore_rest_budget_used_ratio", client="g2") is not None

        merged = scrape_until(dedup, up, 60, "kstore_dedup_rows_merged_total", gatherer="g1",
                              table="trades")
        assert value(merged, "kstore_dedup_rows_read_total", gatherer="g1", table="trades") > 0
        assert value(merged, "kstore_database_up", database="production") == 1
        lags = [key for key in merged if key[0] == "kstore_merge_lag_seconds"]
        assert {dict(labels)["gatherer"] for _, labels in lags} == {"g1", "g2", "g3"}
        assert {dict(labels)["source"] for _, labels in lags} == {"rows"}
        assert value(merged, "kstore_feed_gaps", gatherer="g1", state="open") is not None

        lake = scrape_until(export, up, 60, "kstore_lake_stale_seconds")
        assert value(lake, "kstore_database_up", database="g3_ts") == 1
        assert value(lake, "kstore_lake_unverified_windows", dataset="trades") is not None
        assert named(lake, "kstore_healthy")
    finally:
        up.terminate()  # Ctrl-C: flush, final merge, export
        up.wait(300)


def test_the_dashboard_queries_only_documented_metrics():
    dashboard = json.loads((REPO_ROOT / "deploy" / "grafana" / "kstore.json").read_text())
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\bkstore_[a-z_]+", target["expr"])}
    documented = set(re.findall(r"^\| `(kstore_[a-z_]+)` \|",
                                (REPO_ROOT / "docs" / "status.md").read_text(), re.M))
    assert queried and queried <= documented, queried - documented
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
