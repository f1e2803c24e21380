"""Prometheus metrics of the long-running components (docs/status.md lists every series).

Named metric objects other modules update (`DEDUP_ROWS_MERGED`, `EXPORT_ROWS`,
`REST_BUDGET_USED`, …), and `serve(settings, component)`, which starts a component's /metrics
endpoint once per process (port from `settings.metrics`; off when the port is 0 or metrics are
disabled; a port already taken is logged and the component runs on without it).

What a process holds in memory is read when Prometheus scrapes: a gatherer's counters on its
own event loop (`watch_gatherer`: no cost on the hot path, no cross-thread reads of its
buffers), production's state (lag, gaps, lake freshness, reconciliation: kstore.status) at most
every `metrics.refresh_interval` seconds, so no scrape means no extra load on the databases.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from kstore.settings import Settings

log = logging.getLogger("kstore.metrics")

DEDUP_ROWS_READ = Counter("kstore_dedup_rows_read", "Rows the deduplicator read from a "
                          "gatherer", ["gatherer", "table"])
DEDUP_ROWS_MERGED = Counter("kstore_dedup_rows_merged", "Rows new to production (merged)",
                            ["gatherer", "table"])
EXPORT_ROWS = Counter("kstore_export_rows", "Rows written to verified lake objects",
                      ["dataset"])
EXPORT_WINDOWS = Counter("kstore_export_windows", "Lake windows exported, by verification "
                         "result", ["dataset", "result"])
REST_BUDGET_USED = Gauge("kstore_rest_budget_used_ratio", "REST requests per second over the "
                         "budgeted rate (1 = the whole budget)", ["client"])

PORTS = {"gather": "gather_port", "dedup": "dedup_port", "export": "export_port"}
# What each component publishes from kstore.status (parts it reads from production).
STATUS_PARTS = {"dedup": ("dedup", "gaps", "extras"), "export": ("lake",)}
_served: dict[int, object] = {}  # port → HTTP server of this process
_collectors: dict[str, object] = {}  # name → custom collector registered by this module
_lock = threading.Lock()


def serve(settings: Settings, component: str, gatherer: str | None = None) -> int | None:
    """Start `component`'s endpoint (gather, dedup, export) and, for dedup and export, the
    status gauges; the port, or None when off or not available."""
    config = settings.metrics
    port = getattr(config, PORTS[component])
    if not config.enabled or port == 0:
        return None
    port += settings.gatherers.index(gatherer) if component == "gather" else 0
    if component in STATUS_PARTS:
        _register(component, StatusCollector(settings, STATUS_PARTS[component]))
    with _lock:
        if port not in _served:
            try:
                _served[port] = start_http_server(port, addr=config.host)
            except OSError as exc:
                log.warning("metrics: %s endpoint %s:%d not started: %s", component,
                            config.host, port, exc)
                return None
            log.info("metrics: %s on http://%s:%d/metrics", component, config.host, port)
    return port


def _register(name: str, collector) -> None:
    """One collector per name in this process: a new one (new settings, new gatherer object)
    replaces the previous."""
    with _lock:
        old = _collectors.pop(name, None)
        if old is not None:
            REGISTRY.unregister(old)
        REGISTRY.register(collector)
        _collectors[name] = collector


def merged(gatherer: str, table: str, read: int, inserted: int) -> None:
    """The deduplicator committed a page."""
    DEDUP_ROWS_READ.labels(gatherer, table).inc(read)
    DEDUP_ROWS_MERGED.labels(gatherer, table).inc(inserted)


def exported(reports) -> None:
    """An export cycle's reports (kstore.lake.export.ExportReport)."""
    for report in reports:
        for result in report.windows:
            EXPORT_WINDOWS.labels(report.dataset,
                                  "verified" if result.verified else "failed").inc()
            EXPORT_ROWS.labels(report.dataset).inc(result.found.rows if result.verified else 0)


def watch_gatherer(gatherer) -> int | None:
    """Serve a running kstore.gatherer.run.Gatherer's counters; call it on its event loop."""
    gid = gatherer.gatherer_id
    _register(f"gather:{gid}", GathererCollector(gatherer, asyncio.get_running_loop()))
    REST_BUDGET_USED.labels(gid).set_function(
        _rate_of(lambda: gatherer.rest.requests, gatherer.rest.budget.rate))
    return serve(gatherer.settings, "gather", gid)


def _rate_of(count: Callable[[], int], budget: float) -> Callable[[], float]:
    """A gauge function: the rate of `count` since the previous call, over `budget`."""
    last = [time.monotonic(), count()]

    def ratio() -> float:
        now, value = time.monotonic(), count()
        elapsed, done = now - last[0], value - last[1]
        if elapsed < 1:  # too short to tell: the previous figure stands
            return last[2] if len(last) > 2 else 0.0
        last[:] = [now, value, done / elapsed / budget]
        return last[2]
    return ratio


class GathererCollector:
    """A gatherer's in-memory counters, read on its own event loop at scrape time."""

    def __init__(self, gatherer, loop: asyncio.AbstractEventLoop):
        self.gatherer, self.loop = gatherer, loop

    def describe(self) -> list:
        return []  # registering must not collect (it would wait on the loop it runs on)

    def collect(self) -> Iterator[Metric]:
        sample = self._on_loop(self._sample)
        if sample is None:
            return
        gid, stats, frames, quarantined, gaps, requests, throttled = sample
        yield _family(CounterMetricFamily, "kstore_gather_rows", "Rows committed by the "
                      "gatherer's writers", ["gatherer", "table"],
                      {(gid, t): s["committed"] for t, s in stats.items() if t != "quarantine"})
        yield _family(GaugeMetricFamily, "kstore_gather_writer_backlog_rows", "Rows queued or "
                      "in flight, not yet committed", ["gatherer", "table"],
                      {(gid, t): s["queued"] + s["in_flight"] for t, s in stats.items()})
        for name, text, value in (
                ("frames", "Frames received", frames),
                ("quarantined_frames", "Frames quarantined", quarantined),
                ("gaps_detected", "Feed gaps detected", gaps["detected"]),
                ("gaps_recovered", "Feed gaps recovered", gaps["recovered"])):
            yield _family(CounterMetricFamily, f"kstore_gather_{name}", text, ["gatherer"],
                          {(gid,): value})
        yield _family(CounterMetricFamily, "kstore_rest_requests", "REST requests sent",
                      ["client"], {(gid,): requests})
        yield _family(CounterMetricFamily, "kstore_rest_throttled", "REST answers 429 (the "
                      "budget backed off)", ["client"], {(gid,): throttled})

    def _sample(self) -> tuple:
        g = self.gatherer
        return (g.gatherer_id, g.writers.stats()["tables"], g.stream.counts["frames"],
                g.stream.counts["quarantined"], dict(g.gaps.counts), g.rest.requests,
                g.rest.budget.counts["throttled"])

    def _on_loop(self, fn: Callable[[], tuple]) -> tuple | None:
        """fn() run on the gatherer's event loop (its state is only consistent there); None
        when the loop is gone or does not answer within 2 s."""
        if self.loop.is_closed():
            return None
        future: concurrent.futures.Future = concurrent.futures.Future()

        def call() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 -- handed to the scraping thread
                future.set_exception(exc)
        try:
            self.loop.call_soon_threadsafe(call)
            return future.result(timeout=2)
        except (RuntimeError, concurrent.futures.TimeoutError) as exc:
            log.warning("metrics: gatherer %s not sampled: %s", self.gatherer.gatherer_id, exc)
            return None


def _family(kind, name: str, text: str, labels: list[str], values: dict) -> Metric:
    family = kind(name, text, labels=labels)
    for key, value in values.items():
        family.add_metric(list(key), value)
    return family


class StatusCollector:
    """Production's state as gauges (kstore.status), re-read when the last read is older than
    metrics.refresh_interval."""

    def __init__(self, settings: Settings, parts: tuple[str, ...]):
        self.settings, self.parts = settings, parts
        self.report: dict | None = None
        self.read_at = 0.0
        self.lock = threading.Lock()

    def describe(self) -> list:
        return []  # registering must not read the databases

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            if time.monotonic() - self.read_at >= self.settings.metrics.refresh_interval:
                self.read_at = time.monotonic()
                try:
                    from kstore import status  # loads the exporter's modules: only if scraped
                    self.report = status.collect(self.settings, self.parts)
                except Exception as exc:  # noqa: BLE001 -- a scrape must answer; logged
                    log.warning("metrics: status not read: %s", exc)
            report = self.report
        if report is not None:
            yield from status_families(report)


def status_families(report: dict) -> Iterator[Metric]:
    """The gauges of one kstore.status report."""
    yield _family(GaugeMetricFamily, "kstore_healthy", "1 when the checks this component can "
                  "see pass", [], {(): int(report["healthy"])})
    yield _family(GaugeMetricFamily, "kstore_database_up", "1 when the database answers",
                  ["database"], {(r["name"],): int(r["up"]) for r in report["databases"]})
    if report["dedup"]:
        yield _family(GaugeMetricFamily, "kstore_merge_lag_seconds", "Age of the oldest "
                      "gatherer row not merged (or since the last pull)",
                      ["gatherer", "table", "source"],
                      {(r["gatherer"], r["table"], r["lag_source"]): r["lag_s"]
                       for r in report["dedup"] if r["lag_s"] is not None})
        yield _family(GaugeMetricFamily, "kstore_feed_gaps", "Merged feed gaps by state",
                      ["gatherer", "state"],
                      {(g["gatherer"], state): g[f"gaps_{state}"] for g in report["gatherers"]
                       for state in ("open", "recovered", "open_old")})
    yield from _lake_families(report["lake"])
    totals = (report["reconciliation"] or {}).get("totals", {})
    if totals:
        yield _family(GaugeMetricFamily, "kstore_reconciliation_total", "Sums of "
                      "ops.reconciliation's numeric columns", ["column"],
                      {(key,): float(value) for key, value in totals.items()})


def _lake_families(lake: list[dict]) -> Iterator[Metric]:
    if not lake:
        return
    yield _family(GaugeMetricFamily, "kstore_lake_last_verified_window_end_seconds", "End of "
                  "the newest verified lake window (Unix time)", ["dataset"],
                  {(r["dataset"],): r["last_verified_end"].timestamp()
                   for r in lake if r["last_verified_end"]})
    catalog = [r for r in lake if r["grain"] is not None]
    yield _family(GaugeMetricFamily, "kstore_lake_stale_seconds", "Seconds since the end of "
                  "the oldest closed window not verified (0: none)", ["dataset"],
                  {(r["dataset"],): r["stale_s"] or 0.0 for r in catalog})
    yield _family(GaugeMetricFamily, "kstore_lake_unverified_windows", "Closed windows the "
                  "manifest holds unverified", ["dataset"],
                  {(r["dataset"],): r["unverified"] or 0 for r in catalog})
