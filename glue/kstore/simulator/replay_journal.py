"""A journal hour or a raw/frames object as a replay recording (decision 0081).

`kstore simulate --replay PATH` accepts, besides a frame file:
- a journal segment `…/YYYY-MM-DDTHH.<seq>.zst`;
- a journal directory (every segment), or a directory plus an hour `…/g1/2026-12-06T07`
  (every segment of that hour);
- a `raw/frames` Parquet object written by `kstore journal export` (a local file).
Each recorded connection id becomes a `conn`, in order of its first frame; its frames are sent
byte for byte with their opcode (text unless recorded binary), paced by their receive times
(`at_ms` from the connection's first frame). The replies to the gatherer's own commands
(`subscribed`, `unsubscribed`, `ok`, `error` carrying an `id`) are left out: the replay server
answers the fresh gatherer's commands itself, from the sid plan the data frames imply. A
connection whose frames all precede the next connection's first one ends with a close (1001),
so the fresh gatherer reconnects as the recorded one did.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kstore.journal import reader
from kstore.journal.format import SEGMENT

from .replay_file import Close, Frame, Recording, ReplayFileError, Script, _learn, _message, _sid_of

HOUR_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}$")
REPLIES = {"subscribed", "unsubscribed", "ok", "error"}


def is_journal(path: Path) -> bool:
    path = Path(path)
    return (path.suffix == ".parquet" or SEGMENT.match(path.name) is not None or path.is_dir()
            or (HOUR_NAME.match(path.name) is not None and path.parent.is_dir()))


def frames(path: Path) -> list[tuple[int, str, bool | None, bytes]]:
    """(received_us, connection id, binary, bytes) of every recorded frame, in journal order."""
    path = Path(path)
    if path.suffix == ".parquet":
        return _parquet(path)
    if SEGMENT.match(path.name):
        found = list(reader.SegmentReader(path))
    elif path.is_dir():
        found = list(reader.records(path))
    else:
        hour = datetime.strptime(path.name, "%Y-%m-%dT%H").replace(tzinfo=timezone.utc)
        found = list(reader.records(path.parent, since=hour, until=hour + timedelta(hours=1)))
    if not found:
        raise ReplayFileError(f"replay journal {path}: no frames")
    return [(r.received_us, r.connection_id, r.binary, r.raw) for r in found]


def _parquet(path: Path) -> list[tuple[int, str, bool | None, bytes]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=["seq", "received_at", "connection_id", "is_binary",
                                             "raw"]).sort_by("seq")
    except (OSError, KeyError, ValueError) as exc:
        raise ReplayFileError(f"replay object {path}: {str(exc).splitlines()[0]}") from None
    times = table.column("received_at").cast("int64").to_pylist()
    return list(zip(times, table.column("connection_id").to_pylist(),
                    table.column("is_binary").to_pylist(), table.column("raw").to_pylist()))


def load(path: Path) -> Recording:
    """The recording of `path`'s frames (see the module's docstring)."""
    recorded = frames(path)
    conns: dict[str, int] = {}
    spans: dict[int, list[int]] = {}
    scripts: dict[int, Script] = {}
    recording = Recording()
    for received_us, connection, binary, raw in recorded:
        conn = conns.setdefault(connection, len(conns))
        span = spans.setdefault(conn, [received_us, received_us])
        span[1] = received_us
        message = _message(raw) if binary is not True else None
        if message is not None and message.get("type") in REPLIES and "id" in message:
            continue
        frame = Frame(raw, binary is not True, (received_us - span[0]) // 1000)
        frame = replace(frame, sid=_sid_of(raw) if frame.text else None)
        script = scripts.setdefault(conn, Script())
        script.steps.append(frame)
        _learn(recording, script, frame)
    for conn, script in scripts.items():
        later = [spans[c][0] for c in spans if c > conn]
        if later and spans[conn][1] <= min(later):
            script.steps.append(Close(1001, "recorded connection ended"))
    recording.scripts = scripts
    return recording
