"""Exact wire formatting of prices, sizes and times.

Prices are held as integer micro-dollars (1e-6 $) and sizes as integer centi-contracts
(0.01 contract), so every string the simulator sends is exact: no float ever touches a price.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timezone

MICRO = 1_000_000  # micro-dollars per dollar; a YES price p pairs with NO price MICRO - p


_DOLLARS: dict[tuple[int, int], str] = {}
_CONTRACTS: dict[int, str] = {}


def dollars(micro: int, decimals: int = 4) -> str:
    """`*_dollars` string: 4 decimals ("0.1250") or 6 ("0.012300"); micro must fit the scale."""
    text = _DOLLARS.get((micro, decimals))
    if text is None:
        text = _format_dollars(micro, decimals)
        if len(_DOLLARS) < 1 << 18:
            _DOLLARS[(micro, decimals)] = text
    return text


def _format_dollars(micro: int, decimals: int) -> str:
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    if decimals == 6:
        return f"{sign}{whole}.{frac:06d}"
    return f"{sign}{whole}.{frac // 100:04d}"


def contracts(centi: int) -> str:
    """`*_fp` string with 2 decimals, signed for deltas ("-54.00", "12.50")."""
    text = _CONTRACTS.get(centi)
    if text is None:
        text = _format_contracts(centi)
        if len(_CONTRACTS) < 1 << 18:
            _CONTRACTS[centi] = text
    return text


def _format_contracts(centi: int) -> str:
    sign = "-" if centi < 0 else ""
    whole, frac = divmod(abs(centi), 100)
    return f"{sign}{whole}.{frac:02d}"


def rfc3339(ms: int, with_ms: bool = False) -> str:
    """UTC RFC 3339 time as Kalshi writes it ("2026-11-24T08:10:00Z"), optionally with ms."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    if with_ms:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def uuid4_from(rng: random.Random) -> str:
    """A version-4 UUID drawn from the simulator's RNG, so ids repeat with the seed."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


_MASK = (1 << 64) - 1


def mix64(value: int) -> int:
    """splitmix64 finaliser: a stable 64-bit hash of an int (fault decisions per event/slot)."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def unit(value: int) -> float:
    """Map a 64-bit hash to [0, 1)."""
    return (value >> 11) / float(1 << 53)
