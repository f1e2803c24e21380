"""The raw frame journal (kstore.journal): format, flushes, torn and damaged segments, and every
frame of a real gatherer journaled exactly as the exchange sent it (decision 0035)."""

from __future__ import annotations

import base64
import json
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import gather_from_replay
from kstore.gatherer.parse import Frame
from kstore.journal import reader
from kstore.journal.format import FLAG_OPCODE_UNKNOWN, HEADER, segments
from kstore.journal.writer import Writer

FRAMES = Path(__file__).parent / "frames"
START = datetime(2026, 1, 2, 3, 59, 58, tzinfo=timezone.utc)


def frames(count: int, start: datetime = START) -> list[Frame]:
    """Text-like and binary-like payloads of varied sizes, some not UTF-8."""
    rng = random.Random(count)
    made = []
    for i in range(count):
        body = json.dumps({"type": "trade", "sid": 1, "seq": i, "pad": "x" * rng.randrange(400)})
        raw = body.encode() if i % 7 else bytes(rng.randrange(256) for _ in range(50))
        made.append(Frame(raw, start + timedelta(microseconds=1237 * i), f"conn{i // 500}",
                          use_yes_price=bool(i % 2)))
    return made


def write(directory: Path, made: list[Frame], flush_every: int = 50, close: bool = True,
          first_seq: int = 1) -> Writer:
    writer = Writer(directory, first_seq, frame_bytes=64 << 10)
    for number, frame in enumerate(made, 1):
        writer.append(frame)
        if number % flush_every == 0:
            writer.flush().result()
    if close:
        writer.close()
    else:
        writer.flush().result()
    return writer


def same(record, frame: Frame, seq: int) -> bool:
    return (record.seq, record.raw, record.received_at, record.connection_id,
            record.use_yes_price, record.binary) == (
        seq, frame.raw, frame.received_at, frame.connection_id, frame.use_yes_price, None)


def test_every_record_reads_back_exactly_in_order_across_hours(tmp_path):
    made = frames(3000)
    write(tmp_path, made)
    found = list(reader.records(tmp_path))
    assert len(found) == len(made)
    assert all(same(r, f, seq) for seq, (r, f) in enumerate(zip(found, made), 1))
    assert [s.hour.hour for s in segments(tmp_path)] == [3, 4], "hourly UTC segments"
    assert all(s.path.name.endswith(".zst") for s in segments(tmp_path))


def test_time_and_sequence_ranges_select_records(tmp_path):
    made = frames(2000)
    write(tmp_path, made)
    since, until = made[100].received_at, made[1500].received_at
    window = list(reader.records(tmp_path, since=since, until=until))
    assert [r.seq for r in window] == list(range(101, 1501))
    assert [r.seq for r in reader.records(tmp_path, after_seq=1990)] == list(range(1991, 2001))


def test_flushed_records_are_readable_before_close(tmp_path):
    """A process killed after a flush: everything flushed decodes, no segment end needed."""
    made = frames(777)
    writer = write(tmp_path, made, flush_every=100, close=False)
    assert [r.seq for r in reader.records(tmp_path)] == list(range(1, 778))
    assert reader.tail(tmp_path)[0] == 777
    writer.close()


def test_a_segment_cut_anywhere_keeps_every_whole_block_and_reports_the_tail(tmp_path):
    made = frames(400, START.replace(minute=10))
    write(tmp_path, made, flush_every=40)
    segment = segments(tmp_path)[0].path
    whole = segment.read_bytes()
    cuts = sorted(random.Random(1).sample(range(1, len(whole)), 60))
    for cut in cuts:
        segment.write_bytes(whole[:cut])
        found, reports = [], []
        for record in reader.records(tmp_path, reports=reports):  # never raises
            found.append(record)
        assert all(same(r, made[r.seq - 1], r.seq) for r in found), "a prefix, exact"
        assert [r.seq for r in found] == list(range(1, len(found) + 1))
        assert len(found) % 40 == 0, "a block is all or nothing: whole flushes only"
        assert reports[0]["tail_bytes"] > 0 or reports[0]["damaged"], f"cut at {cut} reported"
        assert reader.tail(tmp_path)[0] == len(found), "the end is found from the last frame"
    segment.write_bytes(whole)
    assert len(list(reader.records(tmp_path))) == 400


def test_the_end_of_a_long_journal_is_found_from_its_last_zstd_frame(tmp_path):
    made = frames(3000, START.replace(minute=30))
    write(tmp_path, made, flush_every=25, close=False)  # 64 KiB zstd frames, the last unfinished
    seq, at, reports = reader.tail(tmp_path)
    assert (seq, at) == (3000, made[-1].received_at)
    assert reports[0]["records"] < 3000, "only the last zstd frame was decoded"


def test_a_damaged_zstd_frame_is_reported_and_later_frames_still_read(tmp_path):
    made = frames(1200, START.replace(minute=20))
    write(tmp_path, made, flush_every=30)  # 64 KiB zstd frames: several per segment
    segment = segments(tmp_path)[0].path
    whole = bytearray(segment.read_bytes())
    whole[200:260] = b"\x00" * 60
    segment.write_bytes(bytes(whole))
    seg = reader.SegmentReader(segment)
    found = list(seg)
    assert seg.report["damaged"], "the damage is reported"
    assert found and found[-1].seq == 1200, "frames after the damaged one are read"
    assert all(same(r, made[r.seq - 1], r.seq) for r in found)


def test_garbage_and_empty_files_never_raise(tmp_path):
    (tmp_path / "2026-01-02T03.000000000000001.zst").write_bytes(b"")
    (tmp_path / "2026-01-02T04.000000000000002.zst").write_bytes(bytes(range(256)) * 10)
    reports = []
    assert list(reader.records(tmp_path, reports=reports)) == []
    assert reports[1]["tail_bytes"] == 2560


def test_the_record_header_is_the_documented_layout():
    assert HEADER.size == 22 and HEADER.format == "<QqBBI"
    assert FLAG_OPCODE_UNKNOWN == 2


def test_a_gatherer_journals_every_frame_exactly_as_sent(server, tmp_path):
    """Replayed pathological frames (BOM, invalid UTF-8, NUL, empty, truncated) come back from
    the journal byte for byte, in order, one record per frame the stream accepted."""
    anchor = time.time_ns() // 1_000_000 - 60_000
    directory = tmp_path / "journal"
    file = FRAMES / "conformance" / "pathological_bytes.jsonl"
    summary, played, _, _ = gather_from_replay(
        server, file, anchor, 3, journal={"directory": str(directory), "fsync": "always"})
    assert played
    records = list(reader.records(directory / "g1"))
    assert len(records) == summary["stream"]["frames"] == summary["journal"]["frames"] > 40
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    sent = [base64.b64decode(json.loads(line)["b64"]) for line in file.read_text().splitlines()
            if '"b64"' in line]
    assert len(sent) > 15
    assert [r.raw for r in records if r.raw in set(sent)] == sent
    assert all(r.connection_id and r.binary is None for r in records)
