"""The journal's on-disk format (decision 0035), shared by the writer and the reader.

A gatherer's journal is a directory `<home>/journal/<gatherer>/` holding `JOURNAL_ID` (a random
id, so a watermark is never applied to another journal) and segment files named
`YYYY-MM-DDTHH.<first seq, 15 digits>.zst`: the UTC hour of the receive times inside, and the
sequence number of its first record. A new process always starts a new segment, so a torn tail
is never appended to. A segment is a concatenation of zstd frames, each independently
decodable; the writer ends a zstd *block* at every flush, so after a crash every record up to
the last flush decodes (a streaming decoder needs no frame end). Inside, records follow each
other without padding:

    seq u64 | received_us i64 | flags u8 | conn_len u8 | length u32 | connection id | bytes

little-endian; `received_us` is the receive time in µs since the Unix epoch (the exact
`received_at` of the rows made from it); flags: FLAG_BINARY (a binary frame), FLAG_OPCODE_UNKNOWN
(the socket did not say text or binary), FLAG_YES_PRICE (`use_yes_price` was pinned),
FLAG_RUN_START (the first record of a gatherer process: recovery stops there).
"""

from __future__ import annotations

import re
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

HEADER = struct.Struct("<QqBBI")
FLAG_BINARY, FLAG_OPCODE_UNKNOWN, FLAG_YES_PRICE, FLAG_RUN_START = 1, 2, 4, 8
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
HOUR_US = 3_600_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_US = timedelta(microseconds=1)
ID_FILE = "JOURNAL_ID"
SEGMENT = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2})\.(\d{15})\.zst$")


class Record(NamedTuple):
    """One received frame: its journal sequence number, receive time (µs and datetime),
    connection id, opcode (True binary, False text, None not recorded), the feed setting it was
    received under, the exact bytes, and whether it is the first of a gatherer process."""

    seq: int
    received_us: int
    connection_id: str
    binary: bool | None
    use_yes_price: bool
    raw: bytes
    run_start: bool = False

    @property
    def received_at(self) -> datetime:
        return EPOCH + self.received_us * ONE_US


class Segment(NamedTuple):
    path: Path
    hour: datetime
    first_seq: int


def journal_dir(settings, gatherer_id: str) -> Path:
    """`<gather.journal.directory or <home>/journal>/<gatherer>`."""
    return (settings.gather.journal.directory or settings.home / "journal") / gatherer_id


def micros(at: datetime) -> int:
    """Exact µs since the epoch of an aware datetime (no float rounding)."""
    return (at - EPOCH) // ONE_US


def segment_name(hour_us: int, first_seq: int) -> str:
    hour = EPOCH + (hour_us // HOUR_US) * HOUR_US * ONE_US
    return f"{hour:%Y-%m-%dT%H}.{first_seq:015d}.zst"


def segments(directory: Path) -> list[Segment]:
    """The directory's segments in journal order (hour, then first sequence number)."""
    found = []
    if directory.is_dir():
        for path in directory.iterdir():
            match = SEGMENT.match(path.name)
            if match:
                hour = datetime.strptime(match[1], "%Y-%m-%dT%H").replace(tzinfo=timezone.utc)
                found.append(Segment(path, hour, int(match[2])))
    return sorted(found, key=lambda s: (s.first_seq, s.hour))


def flags_of(binary: bool | None, use_yes_price: bool, run_start: bool = False) -> int:
    flags = (FLAG_YES_PRICE if use_yes_price else 0) | (FLAG_RUN_START if run_start else 0)
    if binary is None:
        return flags | FLAG_OPCODE_UNKNOWN
    return flags | FLAG_BINARY if binary else flags


def decode_records(block: bytes | memoryview, start: int = 0) -> tuple[list[Record], int]:
    """The whole records of `block` from `start`, and the offset after the last one (a torn
    record at the end is left for the caller to report)."""
    found, size, end = [], HEADER.size, len(block)
    view = memoryview(block)
    while start + size <= end:
        seq, us, flags, conn_len, length = HEADER.unpack_from(view, start)
        stop = start + size + conn_len + length
        if stop > end:
            break
        conn = bytes(view[start + size:start + size + conn_len]).decode("utf-8", "replace")
        binary = None if flags & FLAG_OPCODE_UNKNOWN else bool(flags & FLAG_BINARY)
        found.append(Record(seq, us, conn, binary, bool(flags & FLAG_YES_PRICE),
                            bytes(view[stop - length:stop]), bool(flags & FLAG_RUN_START)))
        start = stop
    return found, start


def walk_records(block: bytes | memoryview) -> tuple[int, int | None, int | None, int]:
    """(whole records, last seq, its received_us, offset after them) of `block`, reading
    headers only: finding a journal's end costs no record objects."""
    count, seq, us, pos, size, end = 0, None, None, 0, HEADER.size, len(block)
    while pos + size <= end:
        next_seq, next_us, _, conn_len, length = HEADER.unpack_from(block, pos)
        stop = pos + size + conn_len + length
        if stop > end:
            break
        count, seq, us, pos = count + 1, next_seq, next_us, stop
    return count, seq, us, pos
