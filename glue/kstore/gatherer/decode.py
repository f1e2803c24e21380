"""Bytes to a JSON value, refusing every pathological frame (decision 0023).

`decode(raw)` returns the decoded value or raises `Invalid` whose reason starts with the class
of the fault (`oversized`, `bom`, `not JSON`, `too deep`, `nul`, `duplicate key`). It never
raises anything else. msgspec's decoder is strict where the standard library is lenient: it
refuses invalid UTF-8, raw control characters, lone surrogate escapes (`"\\ud800"`), NaN and
Infinity, and trailing data; a BOM, `\\u0000` escapes, nesting and duplicate keys are checked
here. Integers of any size decode exactly; their ranges are the field rules' job.

Duplicate keys cost a count, not a parse: the decoded objects' keys are counted (with the depth
check) and compared with the `":` in the bytes without whitespace, which are never fewer than
the key tokens; only when they differ (a `":` inside a string) does the standard library
re-parse the frame to find a repeated key.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from kstore.gatherer.rules import Invalid

MAX_FRAME_BYTES = 1 << 20
MAX_DEPTH = 16  # Kalshi's deepest documented frame nests 5 levels (lifecycle metadata)
BOM = b"\xef\xbb\xbf"
WHITESPACE = b" \t\r\n"  # JSON's; removed, every key token ends `":` (strings may add more)
_decoder = msgspec.json.Decoder()


def decode(raw: bytes) -> Any:
    if len(raw) > MAX_FRAME_BYTES:
        raise Invalid(f"oversized frame: {len(raw)} bytes > {MAX_FRAME_BYTES}")
    if raw.startswith(BOM):
        raise Invalid("bom: frame starts with a UTF-8 byte order mark")
    try:
        value = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise Invalid(f"not JSON: {exc}") from None
    except RecursionError:
        raise Invalid("too deep: nesting beyond the decoder's limit") from None
    if b"\\" in raw and b"\\u0000" in raw:
        raise Invalid("nul: a string holds a \\u0000 character")
    if _count_keys(value, raw) != raw.translate(None, WHITESPACE).count(b'":'):
        _refuse_duplicates(raw)
    return value


def _count_keys(value: Any, raw: bytes) -> int:
    """Object keys in `value`, all levels; raises Invalid beyond MAX_DEPTH. Every object and
    list of `value` has its `{` or `[` in `raw` (strings may hold more), so an envelope whose
    `msg` is an object, in a frame with two `{` and no `[`, holds no other container."""
    if type(value) is not dict and type(value) is not list:
        return 0
    msg = value.get("msg") if type(value) is dict else None
    if type(msg) is dict and raw.count(b"{") == 2 and b"[" not in raw:
        return len(value) + len(msg)
    keys, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        items = node.values() if type(node) is dict else node
        if type(node) is dict:
            keys += len(node)
        for item in items:
            if type(item) is dict or type(item) is list:
                if depth >= MAX_DEPTH:
                    raise Invalid(f"too deep: nesting beyond {MAX_DEPTH} levels")
                stack.append((item, depth + 1))
    return keys


def _refuse_duplicates(raw: bytes) -> None:
    """The exact check, run only when the cheap count cannot rule duplicates out (a `":`
    inside a string): an object with a repeated key is refused."""
    def pairs(items: list[tuple[str, Any]]) -> dict:
        found = dict(items)
        if len(found) != len(items):
            seen: set[str] = set()
            repeated = next(name for name, _ in items if name in seen or seen.add(name))
            raise Invalid(f"duplicate key in an object: {repeated[:100]!r}")
        return found
    try:
        json.loads(raw, object_pairs_hook=pairs)
    except Invalid:
        raise
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"not JSON: {exc}") from None
