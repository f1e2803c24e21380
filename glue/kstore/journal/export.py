"""Copy a gatherer's closed journal hours to the lake as raw frames, verified (decision 0080).

Run on the gatherer's host, where its journal is (a timer or by hand): `kstore journal export
[--gatherer g1]` (default: every gatherer whose journal is on this host). Each closed hour (its
end plus lake.close_after in the past) not yet verified becomes one Parquet object
`raw/frames/gatherer=<id>/<the hourly key layout of ops.lake_object_key>` holding one row per
frame, in journal order: seq, received_at (exact µs), connection_id, sid, type, market_ticker
(from the frame's JSON when present), is_binary (the opcode; null when not recorded),
use_yes_price, run_start, and raw (the exact bytes). The object is read back (rows,
receive-time range, sequence range and total frame bytes equal the journal's; sha256 and size
of the bytes as stored) and only then recorded verified in production's ops.export_manifest
(dataset `raw_frames.<id>`, through ops.lake_record, as kstore_exporter). A segment is deleted
only when the manifest holds its hour verified and undamaged, every frame in it is below the
gatherer's checkpoint (crash recovery may still need the others) and it is not the journal's
newest segment (the next sequence number is read from it); `--keep` never deletes. Anything
else keeps it for the next run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import duckdb
import psycopg
import pyarrow as pa

from kstore import roles, topology
from kstore.journal import checkpoint, reader
from kstore.journal.format import ID_FILE, Record, journal_dir, segments
from kstore.lake import manifest
from kstore.lake.destination import Destination, open_lake, sql_literal
from kstore.lake.export import PARQUET, exporter_dsn
from kstore.settings import Settings, SettingsError

PREFIX = "raw/frames"
HOUR = timedelta(hours=1)
SCHEMA = pa.schema([
    ("seq", pa.int64()), ("received_at", pa.timestamp("us", tz="UTC")),
    ("connection_id", pa.string()), ("sid", pa.int64()), ("type", pa.string()),
    ("market_ticker", pa.string()), ("is_binary", pa.bool_()), ("use_yes_price", pa.bool_()),
    ("run_start", pa.bool_()), ("raw", pa.binary()),
])
# What a read-back must match: rows, receive-time range, sequence range, total frame bytes.
CHECK = ("select count(*), min(received_at), max(received_at), min(seq), max(seq),"
         " coalesce(sum(octet_length(raw)), 0) from read_parquet(?)")


def dataset_name(gatherer_id: str) -> str:
    return f"raw_frames.{gatherer_id}"


def object_key(pg: psycopg.Connection, gatherer_id: str, hour: datetime) -> str:
    """The lake's hourly key layout (ops.lake_object_key) with `gatherer=<id>/` after raw/frames."""
    key = pg.execute("select ops.lake_object_key(%s, 'hour', %s)", [PREFIX, hour]).fetchone()[0]
    return f"{PREFIX}/gatherer={gatherer_id}/{key[len(PREFIX) + 1:]}"


def described(raw: bytes) -> tuple[int | None, str | None, str | None]:
    """(sid, type, market_ticker) of a frame's JSON; nulls for anything else."""
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return None, None, None
    if not isinstance(message, dict):
        return None, None, None
    sid, kind, body = message.get("sid"), message.get("type"), message.get("msg")
    ticker = body.get("market_ticker") if isinstance(body, dict) else None
    return (sid if isinstance(sid, int) and not isinstance(sid, bool) else None,
            kind if isinstance(kind, str) else None,
            ticker if isinstance(ticker, str) else None)


def frames_table(records: Iterable[Record]) -> pa.Table:
    rows = []
    for r in records:
        sid, kind, ticker = described(r.raw)
        rows.append((r.seq, r.received_at, r.connection_id, sid, kind, ticker, r.binary,
                     r.use_yes_price, r.run_start, r.raw))
    return pa.table(list(zip(*rows)) if rows else [[] for _ in SCHEMA], schema=SCHEMA)


@dataclass
class HourResult:
    hour: datetime
    key: str
    rows: int = 0
    byte_count: int | None = None
    reason: str | None = None

    @property
    def verified(self) -> bool:
        return self.reason is None


@dataclass
class Report:
    gatherer: str
    hours: list[HourResult] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: str | None = None  # why verified segments were not deleted

    @property
    def failed(self) -> list[HourResult]:
        return [h for h in self.hours if not h.verified]

    def lines(self) -> list[str]:
        done = [h for h in self.hours if h.verified]
        text = [f"raw frames of {self.gatherer}: {len(self.hours)} hour(s) exported, "
                f"{len(done)} verified, {sum(h.rows for h in done):,} frames, "
                f"{sum(h.byte_count or 0 for h in done) / 1e6:.1f} MB; "
                f"{len(self.deleted)} journal segment(s) deleted"]
        text += [f"  NOT verified {h.key}: {h.reason}" for h in self.failed]
        return text + ([f"  segments kept: {self.kept}"] if self.kept else [])


class FrameExporter:
    """Production (manifest) and the lake (DuckDB) for one gatherer's journal.
    `after_write(key)` runs between writing and verifying an object (tests break it there)."""

    def __init__(self, settings: Settings, gatherer_id: str, dsn: str | None = None,
                 lake: Destination | None = None,
                 after_write: Callable[[str], None] | None = None):
        if gatherer_id not in settings.gatherers:
            raise SettingsError(f"unknown gatherer {gatherer_id!r} (gatherers: "
                                f"{', '.join(settings.gatherers)})")
        self.settings, self.gatherer = settings, gatherer_id
        self.directory = journal_dir(settings, gatherer_id)
        self.name = dataset_name(gatherer_id)
        self.dsn = dsn or exporter_dsn(settings)
        self.lake = lake or open_lake(settings)
        self.after_write = after_write

    def closed_hours(self, now: datetime) -> list[datetime]:
        """Hours of the journal's segments that can receive no more frames."""
        close = HOUR + timedelta(seconds=self.settings.lake.close_after)
        return sorted({s.hour for s in segments(self.directory) if s.hour + close <= now})

    def verified(self, pg: psycopg.Connection) -> set[datetime]:
        """Hours the manifest holds verified and undamaged: their segments may go."""
        return {start for (start,) in pg.execute(
            "select window_start from ops.export_manifest where table_name = %s"
            " and verified_at is not null and damage is null", [self.name])}

    def run(self, now: datetime | None = None, keep: bool = False) -> Report:
        now = now or datetime.now(timezone.utc)
        report = Report(self.gatherer)
        with manifest.connect(self.dsn) as pg:
            if not manifest.try_lock(pg, self.name):
                raise SettingsError(f"another `kstore journal export` holds {self.name}")
            duck = self.lake.connect()
            try:
                done = self.verified(pg)
                for hour in self.closed_hours(now):
                    if hour not in done:
                        report.hours.append(self.export_hour(pg, duck, hour))
                if not keep:
                    report.deleted = self.delete_verified(self.verified(pg), now, report)
            finally:
                duck.close()
                manifest.unlock(pg, self.name)
        return report

    def export_hour(self, pg: psycopg.Connection, duck: duckdb.DuckDBPyConnection,
                    hour: datetime) -> HourResult:
        key = object_key(pg, self.gatherer, hour)
        table = frames_table(reader.records(self.directory, since=hour, until=hour + HOUR))
        raw = table.column("raw").to_pylist()
        seqs, times = table.column("seq").to_pylist(), table.column("received_at").to_pylist()
        expected = (len(raw), min(times, default=None), max(times, default=None),
                    min(seqs, default=None), max(seqs, default=None), sum(map(len, raw)))
        self.lake.prepare(key)
        uri = self.lake.uri(key)
        duck.register("kstore_frames", table)
        try:
            duck.execute(f"copy (select * from kstore_frames order by seq) to "
                         f"{sql_literal(uri)} ({PARQUET})")
        finally:
            duck.unregister("kstore_frames")
        if self.after_write is not None:
            self.after_write(key)
        result = HourResult(hour, key, len(raw))
        checksum = None
        try:
            found = duck.execute(CHECK, [uri]).fetchone()
            content = duck.execute("select content from read_blob(?)", [uri]).fetchone()[0]
            result.byte_count, checksum = len(content), hashlib.sha256(content).hexdigest()
            if tuple(found) != expected:
                result.reason = f"object holds {tuple(found)}, the journal {expected}"
        except duckdb.Error as exc:
            result.reason = f"unreadable: {str(exc).strip().splitlines()[0]}"
        pg.execute("select ops.lake_record(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                   [self.name, hour, hour + HOUR, key, result.rows,
                    result.byte_count, checksum, expected[1], expected[2], result.verified])
        return result

    def delete_verified(self, verified: set[datetime], now: datetime,
                        report: Report) -> list[str]:
        """Segments of closed, verified hours (the guard) whose frames are all at or below the
        checkpoint; never the newest segment."""
        committed = self.committed_seq(report)
        if committed is None:
            return []
        closed = set(self.closed_hours(now)) & verified
        found, gone = segments(self.directory), []
        for segment, following in zip(found, found[1:]):
            if segment.hour in closed and following.first_seq - 1 <= committed:
                segment.path.unlink(missing_ok=True)
                gone.append(segment.path.name)
        return gone

    def committed_seq(self, report: Report) -> int | float | None:
        """The gatherer's checkpoint (ops.journal_checkpoints in its ts database): recovery
        applies the frames above it unless the gatherer stopped cleanly. Unbounded when it names
        another journal, none, or a clean stop; None (delete nothing) when it cannot be read."""
        try:
            dsn = topology.dsn_for(self.settings, f"{self.gatherer}_ts", roles.GATHERER_WRITER)
            with psycopg.connect(dsn, user=roles.GATHERER_WRITER, connect_timeout=10) as conn:
                row = conn.execute(checkpoint.GET, [self.gatherer]).fetchone()
        except (SettingsError, psycopg.Error) as exc:
            report.kept = f"checkpoint unreadable: {str(exc).strip().splitlines()[0]}"
            return None
        ours = (self.directory / ID_FILE).read_text().strip() \
            if (self.directory / ID_FILE).exists() else None
        if row is None or row[0] != ours or row[3].get("clean"):
            return float("inf")  # a clean stop committed every frame it journaled
        return row[1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gatherer", action="append",
                        help="gatherer id, e.g. g1 (repeatable; default: every gatherer of the "
                        "settings whose journal is on this host)")
    parser.add_argument("--keep", action="store_true",
                        help="never delete journal segments (even verified ones)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """`kstore journal export`: 0 when every exported hour verified, 1 otherwise."""
    gatherers = args.gatherer or [g for g in settings.gatherers
                                  if journal_dir(settings, g).is_dir()]
    if not gatherers:
        raise SettingsError("no journal of any gatherer on this host (give --gatherer)")
    failed = False
    for gatherer_id in gatherers:
        try:
            report = FrameExporter(settings, gatherer_id).run(keep=args.keep)
        except (psycopg.Error, duckdb.Error, OSError) as exc:
            print(f"kstore journal export: error: {str(exc).strip().splitlines()[0]}",
                  file=sys.stderr)
            return 1
        print("\n".join(report.lines()))
        failed = failed or bool(report.failed)
    return 1 if failed else 0
