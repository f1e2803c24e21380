"""`kstore bench capture --journal on,off`: the journal's cost in one run (decision 0035).

The capture ladder runs once per journal mode against the same drain-only ladder; this module
holds what the modes add to kstore.bench.capture: the option, each mode's settings (journals
go to a temporary directory, never the operator's home), and the report lines: sustained
events/s per mode and their ratio (issue 10's target: on >= 0.9 x off), the gatherer's CPU
seconds per thousand events in the latency step, and journal bytes per frame and per day at
Kalshi's volume.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kstore.settings import Settings

MODES = ("on", "off")
KALSHI_MESSAGES_PER_DAY = 12_000_000
TARGET = 0.9  # issue 10: at most 10 % fewer sustained events/s with the journal on


def modes(text: str) -> list[str]:
    found = [mode.strip() for mode in text.split(",") if mode.strip()]
    if not found or any(mode not in MODES for mode in found):
        raise argparse.ArgumentTypeError(f"--journal takes on, off or on,off, not {text!r}")
    return list(dict.fromkeys(found))


def settings_for(settings: Settings, mode: str, directory: Path) -> Settings:
    journal = settings.gather.journal.model_copy(update={
        "enabled": mode == "on", "directory": directory / mode})
    return settings.model_copy(update={
        "gather": settings.gather.model_copy(update={"journal": journal})})


def report(ceilings: dict[str, int], latency: dict[str, dict]) -> list[str]:
    """Per mode: sustained events/s and CPU per 1000 events at the latency step; the on/off
    ratio; bytes per frame and per day from the journal of the latency step."""
    lines = []
    for mode, best in ceilings.items():
        step = latency[mode]
        events = max(step["simulator"].get("events", 0), 1)
        cpu = step["cpu"].get("kstore", 0.0)
        lines.append(f"journal {mode}: sustained {best} events/s; gatherer CPU "
                     f"{1000 * cpu / events:.3f} s per 1000 events at 5000 events/s")
    if {"on", "off"} <= set(ceilings) and ceilings["off"]:
        ratio = ceilings["on"] / ceilings["off"]
        lines.append(f"journal on/off sustained ratio {ratio:.2f} (target >= {TARGET}; "
                     f"met: {ratio >= TARGET})")
    if "on" in latency and latency["on"].get("journal", {}).get("frames"):
        journal = latency["on"]["journal"]
        per_frame = journal["bytes_out"] / journal["frames"]
        raw = journal["bytes_in"] / journal["frames"]
        lines.append(f"journal size: {per_frame:.1f} bytes/frame compressed ({raw:.1f} framed, "
                     f"ratio {raw / per_frame:.1f}); at {KALSHI_MESSAGES_PER_DAY:,} messages/day"
                     f" {per_frame * KALSHI_MESSAGES_PER_DAY / 1e9:.2f} GB/day")
    return lines
