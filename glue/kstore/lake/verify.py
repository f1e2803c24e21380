"""`kstore lake verify` and the exporter's rolling scrub: the lake checked against its manifest.

A verified window's object is read again and compared with what ops.export_manifest recorded
when it was verified: it exists, has the same size and sha256, and holds the same rows
(Parquet metadata of the bytes just read). Decision 0045.
- A match is a new verification (verified_at = now): production's guarded retention drops a
  partition only when every window covering it was verified within its `verified_within`.
- A mismatch (deleted, truncated, replaced) un-verifies the window and records the damage
  (ops.lake_check), so retention keeps the partition; the window is re-exported from
  production at once (the exporter's own plan and read-back verification). What cannot be
  repaired (production dropped the rows, an old day's snapshot, a dbt model before the next
  `kstore transform`) stays damaged: ops.lake_health says so to `kstore status` and metrics,
  and `kstore lake verify` exits 1.
The rolling scrub (`Scrub`, run by `kstore export` every lake.scrub_interval) does the same for
the lake.scrub_objects least recently verified objects older than lake.scrub_after.
An unreachable lake is not damage (decision 0087): a root that is missing, cannot be listed or
holds no object at all gives no verdict on any object; the pass stops before it writes anything
to production or the lake (`kstore lake verify` exits 1 with one line, the scrub logs it).
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import duckdb
import psycopg
import pyarrow.parquet as pq

from kstore.lake import manifest, windows
from kstore.lake.destination import Destination, LakeUnreachable
from kstore.lake.export import Exporter
from kstore.lake.manifest import Recorded
from kstore.lake.windows import Dataset
from kstore.settings import Settings, SettingsError

log = logging.getLogger("kstore.lake.verify")
ABSENT = ("No files found", "404", "Not Found", "NoSuchKey", "does not exist")  # DuckDB's words


@dataclass
class VerifyReport:
    """What one verification pass read, found and repaired."""

    checked: int = 0
    damaged: list[tuple[Recorded, str]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    unrepaired: list[tuple[str, str]] = field(default_factory=list)
    summary: str = ""

    @property
    def ok(self) -> bool:
        return not self.unrepaired

    def lines(self) -> list[str]:
        out = [f"verified {self.checked - len(self.damaged)} of {self.checked} object(s); "
               f"{len(self.damaged)} damaged, {len(self.repaired)} re-exported and verified"]
        out += [f"  damaged {window.key}: {problem}" for window, problem in self.damaged]
        out += [f"  NOT repaired {key}: {reason}" for key, reason in self.unrepaired]
        return out + ([self.summary] if self.summary else [])


def inspect(duck: duckdb.DuckDBPyConnection, lake: Destination, window: Recorded) -> str | None:
    """Why the window's object no longer matches its manifest row, or None when it does."""
    try:
        found = duck.execute("select content from read_blob(?)",
                             [lake.uri(window.key)]).fetchone()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        if not any(sign in first for sign in ABSENT):
            raise  # the lake is unreachable: no verdict on any object (the pass stops)
        return f"missing ({first})"
    if found is None:
        return "missing"
    content = found[0]
    problems = []
    if window.byte_count is not None and len(content) != window.byte_count:
        problems.append(f"{len(content)} bytes, manifest {window.byte_count}")
    if window.checksum is None:
        problems.append("the manifest holds no checksum")
    elif hashlib.sha256(content).hexdigest() != window.checksum:
        problems.append("sha256 differs from the manifest's")
    try:
        rows = pq.ParquetFile(io.BytesIO(content)).metadata.num_rows
    except Exception as exc:  # noqa: BLE001 - any undecodable bytes are damage to report
        problems.append(f"not Parquet ({type(exc).__name__})")
    else:
        if rows != window.rows:
            problems.append(f"{rows} rows, manifest {window.rows}")
    return "; ".join(problems) or None


def require_root(lake: Destination, objects: int) -> None:
    """LakeUnreachable unless the lake root exists, can be listed and holds some object, when
    the manifest lists `objects` there: an empty root (a typo, an unmounted folder, a wrong S3
    prefix) would otherwise make every object 'missing' and its repair write to the wrong place."""
    if objects and not lake.holds_objects():
        raise LakeUnreachable(f"the lake root {lake.url} holds no object, but the manifest lists "
                              f"{objects} there (check lake.url)")


def check_windows(exporter: Exporter, todo: list[Recorded], report: VerifyReport) -> None:
    """Read every window of `todo` again and record each outcome in the manifest. A missing
    object is recorded only while the root is still there (an unmount mid-pass stops it)."""
    for window in todo:
        problem = inspect(exporter.duck, exporter.lake, window)
        if problem is not None and problem.startswith("missing"):
            require_root(exporter.lake, len(todo))
        if manifest.check(exporter.pg, window, problem):
            report.checked += 1
            if problem is not None:
                log.warning("lake verify: %s: %s", window.key, problem)
                report.damaged.append((window, problem))


def datasets(exporter: Exporter) -> dict[str, Dataset]:
    """Every dataset the lake holds that the exporter can rebuild: the raw ones (the catalog's
    and windows.extra) and the dbt models of the last `kstore transform`."""
    from kstore.transform import lake_models

    found = {d.manifest_name: d for d in windows.raw(exporter.pg)}
    try:
        for relation, column, grain in lake_models(exporter.settings):
            found[relation] = Dataset(relation, column, grain, relation.replace(".", "/"),
                                      relation)
    except (SettingsError, ValueError, OSError):
        pass  # no dbt build here: damaged models wait for the next `kstore transform`
    return found


def repair(exporter: Exporter, report: VerifyReport) -> None:
    """Re-export every dataset holding a damaged window (ops.lake_plan plans it again while
    production can rebuild it); say why for what stays damaged."""
    known = datasets(exporter)
    reasons: dict[str, str] = {}
    skipped: dict[str, str] = {}
    damaged = manifest.damaged(exporter.pg)
    for name in sorted({row[0] for row in damaged}):
        if name not in known:
            continue
        result = exporter.export(known[name])
        report.repaired += [r.key for r in result.windows
                            if r.verified and any(r.key == row[2] for row in damaged)]
        reasons |= {r.key: r.reason for r in result.failed}
        if result.skipped:
            skipped[name] = f"not re-exported yet: {result.skipped}"
    for name, start, key, _ in manifest.damaged(exporter.pg):
        reason = reasons.get(key) or skipped.get(name) or (
            "re-exported by the next `kstore transform`" if name not in known else
            "production cannot rebuild it (rows dropped by retention, or an older day's "
            "snapshot)")
        manifest.not_repaired(exporter.pg, name, start, reason)
        report.unrepaired.append((key, reason))


def require_known(exporter: Exporter, dataset: str) -> None:
    """SettingsError naming the known datasets unless `dataset` is one: the exporter's or one
    the manifest holds (a dbt model exported before)."""
    known = set(datasets(exporter)) | {name for (name,) in exporter.pg.execute(
        "select distinct table_name from ops.export_manifest")}
    if dataset not in known:
        raise SettingsError(f"lake verify: --table {dataset!r}: no such dataset (known: "
                            f"{', '.join(sorted(known)) or 'none yet'})")


def run(settings: Settings, dataset: str | None = None, since: datetime | None = None,
        verified_before: datetime | None = None, limit: int | None = None) -> VerifyReport:
    """One verification pass (by default: every verified window), then the repairs.
    SettingsError, with nothing recorded, for an unknown dataset or an unreachable lake."""
    try:
        return one_pass(settings, dataset, since, verified_before, limit)
    except LakeUnreachable as exc:
        raise SettingsError(f"lake verify: {exc}; the pass stopped") from None


def one_pass(settings: Settings, dataset: str | None, since: datetime | None,
             verified_before: datetime | None, limit: int | None) -> VerifyReport:
    """`run` without its error wording: LakeUnreachable when the lake root is."""
    report = VerifyReport()
    with Exporter(settings, progress=False) as exporter:
        if dataset is not None:
            require_known(exporter, dataset)
        todo = manifest.scrub_plan(exporter.pg, dataset, since, verified_before, limit)
        require_root(exporter.lake, len(todo) + len(manifest.damaged(exporter.pg)))
        check_windows(exporter, todo, report)
        repair(exporter, report)
        report.summary = manifest.health_summary(exporter.pg)
    return report


class Scrub:
    """The exporter's rolling scrub: every lake.scrub_interval seconds (0: never), verify the
    lake.scrub_objects least recently verified objects older than lake.scrub_after."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.next_at = time.monotonic()

    def due(self) -> bool:
        return self.settings.lake.scrub_interval > 0 and time.monotonic() >= self.next_at

    def maybe_run(self) -> VerifyReport | None:
        """A pass when due; its failures are logged, never raised (the export goes on)."""
        if not self.due():
            return None
        lake = self.settings.lake
        self.next_at = time.monotonic() + lake.scrub_interval
        before = datetime.now(timezone.utc) - timedelta(seconds=lake.scrub_after)
        try:
            report = one_pass(self.settings, None, None, before, lake.scrub_objects)
        except LakeUnreachable as exc:
            log.warning("scrub: no verdict on any object: %s", exc)
            return None
        except (psycopg.Error, duckdb.Error, OSError) as exc:
            log.warning("scrub: failed: %s", str(exc).strip().splitlines()[0])
            return None
        if report.checked or not report.ok:
            log.info("scrub: %s", "\n".join(report.lines()))
        return report
