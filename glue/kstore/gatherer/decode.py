"""Bytes to a JSON value, refusing every pathological frame (decision 0023).

`decode(raw)` returns the decoded value or raises `Invalid` whose reason starts with the class
of the fault (`oversized`, `bom`, `not JSON`, `too deep`, `nul`, `duplicate key`). It never
raises anything else. msgspec's decoder is strict where the standard library is lenient: it
refuses invalid UTF-8, raw control characters, lone surrogate escapes (`"\\ud800"`), NaN and
Infinity, and trailing data; a BOM, `\\u0000` escapes, nesting and duplicate keys are checked
here. Integers of any size decode exactly; their ranges are the field rules' job.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from kstore.gatherer.rules import Invalid

MAX_FRAME_BYTES = 1 << 20
MAX_DEPTH = 16  # Kalshi's deepest documented frame nests 5 levels (lifecycle metadata)
BOM = b"\xef\xbb\xbf"
_decoder = msgspec.json.Decoder()
_KEY_END = re.compile(rb'"\s*:')  # every key ends so; string contents may too (never fewer)


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
    if b"\\u0000" in raw:
        raise Invalid("nul: a string holds a \\u0000 character")
    keys = _count_keys(value)
    if keys != len(_KEY_END.findall(raw)):
        _refuse_duplicates(raw)
    return value


def _count_keys(value: Any) -> int:
    """Object keys in `value`, all levels; raises Invalid beyond MAX_DEPTH."""
    if type(value) is not dict and type(value) is not list:
        return 0
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
    """The exact check, run only when the cheap count cannot rule duplicates out (a key-like
    `":` inside a string): an object with a repeated key is refused."""
    def pairs(items: list[tuple[str, Any]]) -> dict:
        names = [name for name, _ in items]
        if len(set(names)) != len(names):
            raise Invalid(f"duplicate key in an object: {sorted(names)!r}")
        return dict(items)
    json.loads(raw, object_pairs_hook=pairs)
