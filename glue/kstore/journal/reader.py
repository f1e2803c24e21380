"""Reading the journal back: the records of a segment, or of a time or sequence range.

The reader API for recovery, `kstore reparse`, the lake export of raw frames and replay
(decision 0035). Reading never raises on a segment's content: a zstd frame that does not decode
is reported as damaged and reading resumes at the next frame; a torn tail (a crash mid-write, a
truncated copy) is reported with its size, after every whole record before it.

    for record in reader.records(directory, since=t0, until=t1):   # kstore.journal.format.Record
        ...
    seg = reader.SegmentReader(path); records = list(seg); seg.report  # per segment
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import zstandard

from kstore.journal.format import (EPOCH, ONE_US, ZSTD_MAGIC, Record, Segment, decode_records,
                                   micros, segments, walk_records)

log = logging.getLogger("kstore.journal")
CHUNK = 1 << 20  # compressed bytes fed to the decoder at a time


class SegmentReader:
    """Iterates one segment's records in order; afterwards `report` says what was read, what
    was damaged (byte offsets of zstd frames that did not decode) and the torn tail's size."""

    def __init__(self, path: Path, headers_only: bool = False):
        """`headers_only`: yield only (seq, received_us) of each zstd frame's last record."""
        self.path, self.headers_only = path, headers_only
        self.report = {"segment": path.name, "records": 0, "frames": 0, "damaged": [],
                       "tail_bytes": 0, "last_seq": None}

    def __iter__(self) -> Iterator[Record]:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            self.report["damaged"].append(f"unreadable: {exc}")
            return
        yield from self._frames(memoryview(data))

    def _frames(self, data: memoryview) -> Iterator[Record]:
        pos, end = 0, len(data)
        while pos < end:
            if bytes(data[pos:pos + 4]) != ZSTD_MAGIC:
                found = bytes(data[pos:]).find(ZSTD_MAGIC)
                self._damaged(pos, "no zstd frame here")
                if found < 0:
                    self.report["tail_bytes"] += end - pos
                    return
                pos += found
                continue
            records, used, error = self._one_frame(data[pos:])
            yield from records
            self.report["frames"] += 1
            if error is not None:
                self._damaged(pos, error)
                found = bytes(data[pos + 4:]).find(ZSTD_MAGIC)
                if found < 0:
                    return
                pos += 4 + found
            elif used is None:  # the last frame ends without its end: a crash or a cut copy
                return
            else:
                pos += used

    def _one_frame(self, data: memoryview) -> tuple[list, int | None, str | None]:
        """The records of the zstd frame at the start of `data`, the bytes it used (None:
        unfinished) and the decoder's error, if any."""
        decoder = zstandard.ZstdDecompressor().decompressobj()
        out, records, offset, error = bytearray(), [], 0, None
        for start in range(0, len(data), CHUNK):
            try:
                out += decoder.decompress(data[start:start + CHUNK])
            except zstandard.ZstdError as exc:
                error = f"zstd: {exc}"
                break
            if decoder.eof:
                used = start + min(CHUNK, len(data) - start) - len(decoder.unused_data)
                return self._decoded(out), used, None
        records = self._decoded(out)
        if error is None:
            self.report["tail_bytes"] += len(data)
        return records, None, error

    def _decoded(self, out: bytearray) -> list:
        if self.headers_only:
            count, seq, us, offset = walk_records(out)
            records = [] if seq is None else [(seq, us)]
        else:
            records, offset = decode_records(out)
            count = len(records)
        self.report["records"] += count
        if records:
            self.report["last_seq"] = records[-1][0]
        if len(out) > offset:
            self.report["damaged"].append(f"{len(out) - offset} bytes of a torn record")
        return records

    def _damaged(self, offset: int, why: str) -> None:
        self.report["damaged"].append(f"offset {offset}: {why}")
        log.warning("journal: %s: offset %d: %s", self.path.name, offset, why)


def records(directory: Path, since: datetime | None = None, until: datetime | None = None,
            after_seq: int | None = None, reports: list | None = None) -> Iterator[Record]:
    """Every record of the journal in `directory` received in [since, until) and numbered above
    `after_seq`, in journal order; each segment read appends its report to `reports`."""
    low = None if since is None else micros(since)
    high = None if until is None else micros(until)
    found = segments(directory)
    for index, segment in enumerate(found):
        if not _may_hold(segment, found[index + 1:], since, until, after_seq):
            continue
        reader = SegmentReader(segment.path)
        for record in reader:
            if ((after_seq is None or record.seq > after_seq)
                    and (low is None or record.received_us >= low)
                    and (high is None or record.received_us < high)):
                yield record
        if reports is not None:
            reports.append(reader.report)


def _may_hold(segment: Segment, later: list[Segment], since, until, after_seq) -> bool:
    """False when the segment's name proves it holds nothing in range (its hour, or the next
    segment's first seq)."""
    if until is not None and segment.hour >= until:
        return False
    if since is not None and segment.hour + timedelta(hours=1) <= since:
        return False
    return not (after_seq is not None and later and later[0].first_seq <= after_seq + 1)


def tail(directory: Path) -> tuple[int, datetime | None, list[dict]]:
    """The last readable sequence number (0 when empty), its receive time, and the reports of
    the segments read to find it (the newest that holds a record)."""
    reports = []
    for segment in reversed(segments(directory)):
        reader = SegmentReader(segment.path, headers_only=True)
        last = _last_frame(reader, segment.first_seq)
        if last is None:  # no zstd frame at the end decodes alone: read the whole segment
            for last in reader:  # noqa: B007 -- the last record is what we want
                pass
        reports.append(reader.report)
        if last is not None:
            return last[0], EPOCH + last[1] * ONE_US, reports
    return 0, None, reports


def _last_frame(reader: SegmentReader, first_seq: int) -> tuple[int, int] | None:
    """(seq, received_us) of the segment's last record, decoding only its last zstd frame: the
    last zstd magic from which the rest of the file decodes cleanly into records of this
    segment (a magic inside compressed data fails to decode, and the one before is tried)."""
    try:
        raw = reader.path.read_bytes()
    except OSError:
        return None
    data, end = memoryview(raw), len(raw)
    for _ in range(16):
        end = raw.rfind(ZSTD_MAGIC, 0, end)
        if end < 0:
            return None
        probe = SegmentReader(reader.path, headers_only=True)
        records, _, error = probe._one_frame(data[end:])
        if error is None and records and records[-1][0] >= first_seq:
            return records[-1]
    return None
