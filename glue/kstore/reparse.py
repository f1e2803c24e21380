"""`kstore reparse --gatherer g1 --since TS --until TS`: a gatherer's rows for a window, rebuilt
from its raw journal (decision 0037).

After a parser fix, or for a table added later: every journaled frame received in
[since, until) goes through the gatherer's own parse and `on conflict` path again
(kstore.journal.apply), as the gatherer's writer role, so rows already there are kept and only
missing ones are added; quarantine and seq-jump feed_gaps rows are added only where an
identical one is missing. Running it twice adds nothing. The `gather.journal.lookback` before
`since` is read first, rows dropped, to rebuild dup ordinals and seq checks. The deduplicator
then merges what is new into production like any other row. Reports frames read, rows added
(per table), quarantined, and any damaged or torn journal segment.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from kstore import roles, topology
from kstore.journal import reader
from kstore.journal.apply import Applier, apply_all
from kstore.journal.format import journal_dir, micros
from kstore.settings import Settings, SettingsError


def run(settings: Settings, gatherer_id: str, since: datetime, until: datetime) -> dict:
    if gatherer_id not in settings.gatherers:
        raise SettingsError(f"reparse: unknown gatherer {gatherer_id!r} (configured: "
                            f"{', '.join(settings.gatherers)})")
    if since >= until:
        raise SettingsError("reparse: --since must be before --until")
    directory = journal_dir(settings, gatherer_id)
    if not reader.segments(directory):
        raise SettingsError(f"reparse: no journal segments for {gatherer_id} in {directory}")
    dsn = lambda kind: topology.dsn_for(settings, f"{gatherer_id}_{kind}",  # noqa: E731
                                        roles.GATHERER_WRITER)
    applier = Applier(gatherer_id, dsn("ts"), dsn("rel"),
                      timedelta(seconds=settings.gather.time_tolerance))
    reports: list[dict] = []
    lookback = timedelta(seconds=settings.gather.journal.lookback)
    records = reader.records(directory, since=since - lookback, until=until, reports=reports)
    start = micros(since)
    counts = asyncio.run(apply_all(applier, records, lambda r: r.received_us >= start))
    return {"gatherer": gatherer_id, "since": since.isoformat(), "until": until.isoformat(),
            **counts, "segments": len(reports),
            "damaged": [f"{r['segment']}: {d}" for r in reports for d in r["damaged"]],
            "tail_bytes": sum(r["tail_bytes"] for r in reports)}



def render(result: dict) -> str:
    rows = ", ".join(f"{table} {n}" for table, n in result["rows"].items())
    lines = [f"reparse {result['gatherer']} [{result['since']}, {result['until']}): "
             f"{result['frames']} frames read ({result['warm_frames']} before the window for "
             f"state), {result['rows_added']} rows added ({rows}), {result['quarantined']} "
             f"quarantined, {result['gaps']} gaps, {result['lifecycle']} lifecycle frames"]
    lines += [f"damaged: {where}" for where in result["damaged"]]
    return "\n".join(lines)
