"""Mutated copies of valid data frames: the `fuzz` fault (`kstore bench fuzz`).

With `--faults fuzz` a connection follows a data frame (trade, ticker, orderbook_delta) with a
mutated copy of that very frame, with `malformed_probability` per frame. Contracts:
- the valid frame is always sent first and is in the truth file; the mutant never is;
- a mutant never carries a valid *new* seq or sid: it repeats the copied frame's envelope, or
  makes it invalid (seq > 2^63, seq as a string), so if a mutant stays valid it is a duplicate
  on a sequenced channel and can never open a gap or hide a later valid frame;
- random edits (byte flips, NUL, lone surrogates, ...) touch only the `msg` object;
- the mutation is chosen by cycling through MUTATIONS (so n*len(MUTATIONS) mutants show every
  one), its position from (seed, mutant number): the same run has the same mutants.
Each mutant is logged (mutation name, sha256 of its bytes) so the bench can tell which ones the
gatherer quarantined (quarantine.raw holds the exact bytes).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Callable

from .faults import Frame, RawText, names_in
from .units import mix64

Mutation = Callable[[str, int], Frame]  # (valid frame, random 64-bit word) -> mutant
MSG = '"msg":{'
NUMBER = re.compile(r'"(ts_ms|ts|seq|sid)":(\d+)')
DECIMAL = re.compile(r'"(\w+_dollars|\w+_fp)":"(-?\d+\.\d+)"')
TICKER = re.compile(r'"market_ticker":"([^"]+)"')


def _msg_span(frame: str) -> tuple[int, int]:
    """[start, end) of the msg object's inside (between its braces)."""
    start = frame.index(MSG) + len(MSG)
    end = frame.rindex("}", 0, frame.rindex("}"))
    return start, max(start + 1, end)


def _at(frame: str, word: int) -> int:
    start, end = _msg_span(frame)
    return start + word % (end - start)


def byte_flip(frame: str, word: int) -> Frame:
    raw = bytearray(frame.encode())
    position = _at(frame, word)
    raw[position] ^= 1 << ((word >> 32) % 8)
    return RawText(bytes(raw))


def truncate(frame: str, word: int) -> Frame:
    return frame[:word % max(1, len(frame) - 1)]


def _sub_first(pattern: re.Pattern, replace: Callable[[re.Match], str], frame: str,
               word: int) -> str:
    """Replaces one match of `pattern` (chosen by `word`); the frame unchanged when none."""
    matches = list(pattern.finditer(frame))
    if not matches:
        return frame
    match = matches[word % len(matches)]
    return frame[:match.start()] + replace(match) + frame[match.end():]


def _msg_value(frame: str, value: str) -> str:
    """The frame with its msg object replaced by `value` (raw JSON)."""
    start, end = _msg_span(frame)
    return frame[:start - 1] + value + frame[end + 1:]


def _splice(frame: str, word: int, text: str) -> str:
    """`text` inserted inside a string value of msg (after the ticker's first character)."""
    return _sub_first(TICKER, lambda m: f'"market_ticker":"{m[1][:1]}{text}{m[1][1:]}"',
                      frame, word)


def seq_over_2_63(frame: str, word: int) -> Frame:
    """The frame's seq beyond 2^64 (a seq after its sid when it has none)."""
    if '"seq":' in frame:
        return re.sub(r'"seq":(\d+)', lambda m: f'"seq":{2**64 + int(m[1])}', frame, count=1)
    return re.sub(r'("sid":\d+)', rf'\1,"seq":{2**63 + word % 1000}', frame, count=1)


MUTATIONS: dict[str, Mutation] = {
    "byte_flip": byte_flip,
    "truncate": truncate,
    "deep_nesting": lambda f, w: _msg_value(f, "[" * 100_000 + "]" * 100_000),
    "deep_nesting_objects": lambda f, w: _msg_value(f, '{"a":' * 5_000 + "1" + "}" * 5_000),
    "huge_integer": lambda f, w: _sub_first(NUMBER, lambda m: f'"{m[1]}":{"9" * 5000}', f, w),
    "huge_float": lambda f, w: _sub_first(NUMBER, lambda m: f'"{m[1]}":1e999', f, w),
    "float_integer": lambda f, w: _sub_first(NUMBER, lambda m: f'"{m[1]}":{m[2]}.0', f, w),
    "nan_number": lambda f, w: _sub_first(NUMBER, lambda m: f'"{m[1]}":NaN', f, w),
    "seq_over_2_63": seq_over_2_63,
    "seq_as_string": lambda f, w: re.sub(r'"(seq|sid)":(\d+)', r'"\1":"\2"', f, count=1),
    "exponent_decimal": lambda f, w: _sub_first(
        DECIMAL, lambda m: f'"{m[1]}":"{m[2].rstrip("0").rstrip(".") or "0"}e0"', f, w),
    "exponent_scaled": lambda f, w: _sub_first(
        DECIMAL, lambda m: f'"{m[1]}":"{m[2].replace(".", "")}e-{len(m[2].split(".")[1])}"', f, w),
    "plus_sign": lambda f, w: _sub_first(DECIMAL, lambda m: f'"{m[1]}":"+{m[2]}"', f, w),
    "decimal_as_number": lambda f, w: _sub_first(DECIMAL, lambda m: f'"{m[1]}":{m[2]}', f, w),
    "nan_decimal": lambda f, w: _sub_first(DECIMAL, lambda m: f'"{m[1]}":"NaN"', f, w),
    "too_many_decimals": lambda f, w: _sub_first(DECIMAL, lambda m: f'"{m[1]}":"{m[2]}0001"', f, w),
    "lower_case_ticker": lambda f, w: _sub_first(
        TICKER, lambda m: f'"market_ticker":"{m[1].lower()}"', f, w),
    "duplicate_keys": lambda f, w: f.replace('{"type":', '{"type":"trade","type":', 1),
    "duplicate_msg_key": lambda f, w: f.replace(MSG, MSG + f[f.index(MSG) + len(MSG):].split(
        ",", 1)[0] + ",", 1),
    "invalid_utf8": lambda f, w: RawText(_splice(f, w, "\x00SPLIT").encode().replace(
        b"\x00SPLIT", b"\xff\xfe")),
    "binary_frame": lambda f, w: f.encode(),
    "raw_nul": lambda f, w: _splice(f, w, "\x00"),
    "escaped_nul": lambda f, w: _splice(f, w, "\\u0000"),
    "lone_surrogate": lambda f, w: _splice(f, w, "\\ud800"),
    "bom": lambda f, w: "\ufeff" + f,
    "trailing_garbage": lambda f, w: f + "}garbage",
    "two_objects": lambda f, w: f + f,
    "null_msg": lambda f, w: _msg_value(f, "null"),
    "empty_msg": lambda f, w: _msg_value(f, "{}"),
    "wrong_type": lambda f, w: re.sub(r'"type":"(\w+)"', '"type":"orderbook_snapshot"', f, count=1),
    "empty_frame": lambda f, w: "",
}


class Mutator:
    """The `fuzz` fault of one simulator: the n-th mutant of the run, logged as a line
    `name<TAB>sha256` to `log` (when given) in the order sent."""

    def __init__(self, seed: int, log: Path | None = None, names: list[str] | None = None) -> None:
        self.key = mix64(seed ^ 0xF022)
        self.names = names or list(MUTATIONS)
        self.made = 0
        self.log = open(log, "w", encoding="ascii", buffering=1 << 20) if log else None

    def mutate(self, frame: str) -> Frame:
        name = self.names[self.made % len(self.names)]
        mutant = MUTATIONS[name](frame, mix64(self.key ^ self.made))
        self.made += 1
        if self.log is not None:
            raw = mutant if isinstance(mutant, bytes) else mutant.encode()
            self.log.write(f"{name}\t{hashlib.sha256(raw).hexdigest()}\n")
        return mutant

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


def mutation_names(value: object) -> tuple[str, ...]:
    """`"a,b"` or an iterable -> validated mutation names (empty: all of them)."""
    return names_in(value, MUTATIONS, "mutation")
