"""Frame files for `kstore simulate --replay FILE` (format: README "Replaying recorded frames").

JSON Lines, one record per line, `kind` defaulting to "text" and `conn` to 0:
frames (text / binary, given as `data`, `json` or `b64`), `silence`, `close`, `abort`, the
per-connection sid plan `sids`, and `rest` answers. `load()` turns a file into a `Recording`,
or raises `ReplayFileError` naming the line; nothing is sent that was not checked first.
Contract: a `b64` payload, and a `data` payload without `"template": true`, reach the client
byte for byte; `json` payloads are re-encoded compactly and always expand time placeholders.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from kstore.settings import SettingsError

REST_PREFIX = "/trade-api/v2"
# type of a data frame -> the channel whose subscription carries it (for inferred sid plans)
CHANNEL_OF = {
    "orderbook_snapshot": "orderbook_delta", "orderbook_delta": "orderbook_delta",
    "trade": "trade", "ticker": "ticker",
    "market_lifecycle_v2": "market_lifecycle_v2", "event_lifecycle": "market_lifecycle_v2",
}
# {{now_ms}}, {{now_ms+1500}}, {{now_s-60}}, with or without surrounding quotes -> an integer
PLACEHOLDER = re.compile(rb'"?\{\{now_(ms|s)([+-][0-9]+)?\}\}"?')
KINDS = ("text", "binary", "silence", "close", "abort", "sids", "rest", "note")


class ReplayFileError(SettingsError):
    """A frame file the replay server cannot serve: one line, naming the file line."""


@dataclass(frozen=True)
class Frame:
    """One WebSocket message: exact payload, opcode, and the sid it travels on (if JSON says)."""

    payload: bytes
    text: bool
    at_ms: int | None = None
    template: bool = False
    sid: int | None = None

    def render(self, base_ms: int) -> bytes:
        """The bytes to send; placeholders become integers relative to `base_ms`."""
        if not self.template:
            return self.payload
        return PLACEHOLDER.sub(lambda m: _clock(m, base_ms), self.payload)


@dataclass(frozen=True)
class Silence:
    seconds: float


@dataclass(frozen=True)
class Close:
    code: int = 1000
    reason: str = ""


@dataclass(frozen=True)
class Abort:
    """Drop the TCP connection without a close frame (the client sees 1006)."""


Step = Frame | Silence | Close | Abort


@dataclass
class Script:
    """What the n-th accepted connection plays, and the sids its subscribes are answered with."""

    steps: list[Step] = field(default_factory=list)
    declared: dict[str, list[int]] | None = None  # the `sids` record, when the file has one
    inferred: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return bool(self.steps) and isinstance(self.steps[-1], (Close, Abort))

    @property
    def sids(self) -> dict[str, list[int]]:
        return self.declared if self.declared is not None else self.inferred


@dataclass
class Recording:
    scripts: dict[int, Script] = field(default_factory=dict)
    rest: dict[str, tuple[int, dict]] = field(default_factory=dict)  # path[?query] -> answer
    json_frames: list[Frame] = field(default_factory=list)  # text frames holding a JSON object

    def messages(self, base_ms: int):
        """The JSON objects of the text frames, in file order, as sent with clock `base_ms`."""
        for frame in self.json_frames:
            message = _message(frame.render(base_ms))
            if message is not None:
                yield message

    def script(self, conn: int) -> Script:
        return self.scripts.get(conn) or Script()


def _clock(match: re.Match, base_ms: int) -> bytes:
    offset = int(match.group(2) or 0)
    value = base_ms + offset if match.group(1) == b"ms" else base_ms // 1000 + offset
    return str(value).encode()


def load(path: Path) -> Recording:
    """Read and check a frame file; `ReplayFileError` names the first bad line. A journal
    segment, directory or hour, or a raw/frames Parquet object: replay_journal."""
    from . import replay_journal  # it builds on this module's frames

    if replay_journal.is_journal(path):
        return replay_journal.load(path)
    try:
        lines = Path(path).read_bytes().splitlines()
    except OSError as exc:
        raise ReplayFileError(f"replay file {path}: {exc.strerror or exc}") from None
    recording = Recording()
    scripts: dict[int, Script] = defaultdict(Script)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            _add(recording, scripts, _record(line))
        except (ValueError, TypeError, KeyError) as exc:
            raise ReplayFileError(f"replay file {path} line {number}: {exc}") from None
    recording.scripts = dict(scripts)
    return recording


def _record(line: bytes) -> dict:
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError("a record is a JSON object")
    kind = record.setdefault("kind", "text")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    conn = record.setdefault("conn", 0)
    if not isinstance(conn, int) or isinstance(conn, bool) or conn < 0:
        raise ValueError(f"conn must be an integer >= 0, not {conn!r}")
    return record


def _add(recording: Recording, scripts: dict[int, Script], record: dict) -> None:
    kind, script = record["kind"], scripts[record["conn"]]
    if kind in ("text", "binary", "silence", "close", "abort") and script.ended:
        raise ValueError(f"conn {record['conn']} already ended with a close or abort; "
                         "frames after it belong to another conn")
    if kind in ("text", "binary"):
        frame = _frame(record)
        script.steps.append(frame)
        _learn(recording, script, frame)
    elif kind == "silence":
        script.steps.append(Silence(_number(record, "seconds")))
    elif kind == "close":
        script.steps.append(_close(record))
    elif kind == "abort":
        script.steps.append(Abort())
    elif kind == "sids":
        script.declared = _sid_plan(record.get("sids"))
    elif kind == "rest":
        path, answer = _rest(record)
        recording.rest[path] = answer


def _frame(record: dict) -> Frame:
    given = [key for key in ("data", "json", "b64") if key in record]
    if len(given) != 1:
        raise ValueError("a frame has exactly one of data, json, b64")
    key, text, template = given[0], record["kind"] == "text", record.get("template", False)
    if not isinstance(template, bool):
        raise ValueError("template must be true or false")
    if key == "b64":
        payload, template = _b64(record["b64"]), False
    elif key == "data":
        if not isinstance(record["data"], str):
            raise ValueError("data must be a JSON string (use b64 for other bytes)")
        payload = record["data"].encode("utf-8", "surrogatepass")
    else:
        payload = json.dumps(record["json"], separators=(",", ":"), ensure_ascii=False).encode()
        template = True
    at_ms = record.get("at_ms")
    if at_ms is not None and (not isinstance(at_ms, int) or isinstance(at_ms, bool) or at_ms < 0):
        raise ValueError(f"at_ms must be an integer >= 0, not {at_ms!r}")
    frame = Frame(payload, text, at_ms, template)
    return replace(frame, sid=_sid_of(frame.render(0)))


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("b64 must be a string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"b64 is not base64: {exc}") from None


def _message(payload: bytes) -> dict | None:
    try:
        message = json.loads(payload)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, too deep: sent as it is
        return None
    return message if isinstance(message, dict) else None


def _sid_of(payload: bytes) -> int | None:
    message = _message(payload)
    sid = message.get("sid") if message else None
    return sid if isinstance(sid, int) and not isinstance(sid, bool) else None


def _learn(recording: Recording, script: Script, frame: Frame) -> None:
    """Keep the frame's JSON (for the REST universe) and infer the sid plan from data frames."""
    message = _message(frame.render(0)) if frame.text else None
    if message is None:
        return
    recording.json_frames.append(frame)
    channel = CHANNEL_OF.get(message.get("type"))
    if channel is None or frame.sid is None:
        return
    known = {sid for sids in script.inferred.values() for sid in sids}
    if frame.sid not in known:
        script.inferred.setdefault(channel, []).append(frame.sid)


def _sid_plan(value: object) -> dict[str, list[int]]:
    if not isinstance(value, dict):
        raise ValueError('sids must be an object {"channel": sid or [sid, ...]}')
    plan = {}
    for channel, sids in value.items():
        sids = sids if isinstance(sids, list) else [sids]
        if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sids):
            raise ValueError(f"sids of {channel} must be positive integers")
        plan[channel] = sids
    every = [s for sids in plan.values() for s in sids]
    if len(every) != len(set(every)):
        raise ValueError("a sid appears twice in the plan")
    return plan


def _number(record: dict, key: str) -> float:
    value = record.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a number >= 0")
    return float(value)


def _close(record: dict) -> Close:
    code, reason = record.get("code", 1000), record.get("reason", "")
    if not isinstance(code, int) or not (code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                                  1011, 1012, 1013, 1014) or 3000 <= code < 5000):
        raise ValueError(f"close code {code!r} cannot be sent in a close frame")
    if not isinstance(reason, str) or len(reason.encode()) > 123:
        raise ValueError("close reason must be a string of at most 123 bytes")
    return Close(code, reason)


def _rest(record: dict) -> tuple[str, tuple[int, dict]]:
    path, status, body = record.get("path"), record.get("status", 200), record.get("body")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("rest path must start with /")
    if not isinstance(status, int) or not 100 <= status < 600:
        raise ValueError("rest status must be an HTTP status code")
    if not isinstance(body, dict):
        raise ValueError("rest body must be a JSON object")
    full = path if path.startswith(REST_PREFIX + "/") else REST_PREFIX + path
    return full, (status, body)
