"""Appending to the journal: the gatherer's write-ahead record of the feed (decision 0035).

Guarantees: `append(frame)` is called for every frame before its rows are handed to the
writers, never blocks and never raises on a frame's content; it numbers the frame (the journal
sequence number, increasing across runs). Records are buffered in memory and written by one
worker thread, in order: `flush()` hands the buffer over and returns a future done once those
records are in the operating system (and on disk, with `sync`); a crash of the process then
loses none of them. The gatherer flushes before every writer batch commits and at least every
`flush_interval`, so no committed row comes from a frame the journal lacks. A segment is closed
(zstd frame finished, fsynced) when the hour of the receive times changes and at `close()`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import zstandard

from kstore.journal.format import HEADER, HOUR_US, ID_FILE, flags_of, micros, segment_name

log = logging.getLogger("kstore.journal")
BLOCK_BYTES = 1 << 20  # a buffer this large is handed to the worker without waiting for a flush


def journal_id(directory: Path) -> str:
    """The journal's identity (created on first use): a watermark names the journal it is for."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ID_FILE
    if not path.exists():
        path.write_text(uuid.uuid4().hex + "\n")
    return path.read_text().strip()


class Off:
    """The journal when it is disabled: appends nothing, flushes at once."""

    last_seq, last_us, enabled = 0, None, False

    def append(self, frame, binary: bool | None = None) -> None: ...

    def flush(self, sync: bool = False) -> Future:
        done: Future = Future()
        done.set_result(None)
        return done

    async def aflush(self, sync: bool = False) -> None: ...

    def close(self) -> None: ...


OFF = Off()


class Writer:
    """Appends records to `<directory>`; the first gets sequence number `next_seq`."""

    enabled = True

    def __init__(self, directory: Path, next_seq: int, *, level: int = 3,
                 frame_bytes: int = 8 << 20, sync_always: bool = False):
        self.directory, self.next_seq, self.last_us = directory, next_seq, None
        self.frame_bytes, self.sync_always = frame_bytes, sync_always
        self.first_seq = next_seq
        self.stats = {"bytes_in": 0, "bytes_out": 0, "flushes": 0, "segments": 0}
        self._compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="journal")
        self._buf, self._hour, self._pending = bytearray(), None, None
        self._file, self._cobj, self._frame_in = None, None, 0  # the worker thread's
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1

    @property
    def frames(self) -> int:
        """Frames appended by this writer."""
        return self.next_seq - self.first_seq

    def append(self, frame, binary: bool | None = None) -> None:
        """Journals a parse.Frame (raw, received_at, connection_id, use_yes_price)."""
        us, raw = micros(frame.received_at), frame.raw
        if us // HOUR_US != self._hour:
            self._rotate(us)
        conn = frame.connection_id.encode()[:255]
        buf = self._buf
        buf += HEADER.pack(self.next_seq, us, flags_of(binary, frame.use_yes_price,
                                                        self.next_seq == self.first_seq),
                           len(conn), len(raw))
        buf += conn
        buf += raw
        self.next_seq += 1
        self.last_us = us
        if len(buf) >= BLOCK_BYTES:
            self.flush()

    def flush(self, sync: bool = False) -> Future:
        """Hands every record appended so far to the worker; the future is done once they are
        written (fsynced with `sync`, or when the journal syncs always)."""
        if self._buf or sync or self._pending is None:
            data, self._buf = bytes(self._buf), bytearray()
            self._pending = self._worker.submit(self._write, data, sync or self.sync_always)
        return self._pending

    async def aflush(self, sync: bool = False) -> None:
        await asyncio.wrap_future(self.flush(sync))

    def close(self) -> None:
        """Writes everything, finishes and fsyncs the segment; waits for the worker."""
        self.flush()
        self._worker.submit(self._close_segment).result()
        self._worker.shutdown(wait=True)

    def _rotate(self, us: int) -> None:
        self.flush()
        self._hour = us // HOUR_US
        self._worker.submit(self._open_segment, us, self.next_seq)

    # --- the worker thread ----------------------------------------------------------------

    def _open_segment(self, us: int, first_seq: int) -> None:
        self._close_segment()
        path = self.directory / segment_name(us, first_seq)
        self._file = open(path, "xb", buffering=0)  # noqa: SIM115 -- never appends to a file
        self._cobj, self._frame_in = self._compressor.compressobj(), 0
        self.stats["segments"] += 1

    def _write(self, data: bytes, sync: bool) -> None:
        if data:
            out = self._cobj.compress(data) + self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
            self._frame_in += len(data)
            if self._frame_in >= self.frame_bytes:  # the next records start a new zstd frame
                out += self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)
                self._cobj, self._frame_in = self._compressor.compressobj(), 0
            self._file.write(out)
            self.stats["bytes_in"] += len(data)
            self.stats["bytes_out"] += len(out)
            self.stats["flushes"] += 1
        if sync and self._file is not None:
            os.fsync(self._file.fileno())

    def _close_segment(self) -> None:
        if self._file is None:
            return
        if self._frame_in:
            self._file.write(self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
