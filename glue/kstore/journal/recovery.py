"""Crash recovery at gatherer start (decision 0036): the frames journaled after the last
checkpoint are applied again, so a gatherer killed with `kill -9` loses nothing it had
journaled.

Guarantees: run before the gatherer connects; applies every readable record numbered above the
checkpoint's seq through kstore.journal.apply (idempotent: frames whose rows did commit add
nothing), warmed by the `lookback` before the checkpoint and continuing from its exact seq
state, so dup ordinals and seq checks come out as the dead process would have made them. Then
the checkpoint moves to the last record, and the next run's sequence numbers follow it. A run
that did not stop cleanly is a break of every subscription of its last connection: returned as
breaks (cause `crash`, last frame = the last journaled one) for the gatherer's OpenBreaks, which
writes them and marks them resumed and recovered like a reconnect's. A checkpoint of another
journal (JOURNAL_ID differs) or no checkpoint (a fresh database) recovers nothing: rebuilding a
database from an old journal is `kstore reparse`'s job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kstore.gatherer.breaks import Break
from kstore.journal import checkpoint, reader
from kstore.journal.apply import Applier, apply_all
from kstore.journal.checkpoint import Checkpoint

log = logging.getLogger("kstore.journal")


@dataclass
class Recovery:
    """What start-up found and did: the next sequence number, the counts of the frames applied
    again, the crash's breaks, and the reports of the segments read."""

    next_seq: int
    counts: dict = field(default_factory=dict)
    breaks: list[Break] = field(default_factory=list)
    reports: list[dict] = field(default_factory=list)


async def recover(directory: Path, journal_id: str, gatherer_id: str, ts_dsn: str,
                  rel_dsn: str | None, tolerance: timedelta, lookback: float,
                  before: int | None = None) -> Recovery:
    """`before`: this process's first sequence number, when it already journals (a recovery
    deferred because the database did not answer at start): the checkpoint stops below it."""
    last_seq, last_at, reports = reader.tail(directory) if before is None else (
        before - 1, None, [])
    found = await checkpoint.read(ts_dsn, gatherer_id)
    if found is not None and found.journal_id != journal_id:
        log.warning("journal: the checkpoint of %s names journal %s, not %s: nothing recovered",
                    gatherer_id, found.journal_id, journal_id)
        found = None
    named = max((s.first_seq for s in reader.segments(directory)), default=0)  # never reused
    done = Recovery(max(last_seq, named, found.seq if found else 0) + 1, reports=reports)
    if before is not None:
        done.next_seq = before
    if found is not None:
        applier = Applier(gatherer_id, ts_dsn, rel_dsn, tolerance)
        if found.seq < last_seq and not found.state.get("clean"):
            await _reapply(directory, found, applier, lookback, done)
        if not found.state.get("clean"):
            done.breaks = crash_breaks(found, applier)
    await checkpoint.write(ts_dsn, gatherer_id, Checkpoint(
        journal_id, done.next_seq - 1, last_at, {"run_start": done.next_seq}))
    return done


def next_free(directory: Path) -> int:
    """The next sequence number from the journal alone (no checkpoint at hand)."""
    named = max((s.first_seq for s in reader.segments(directory)), default=0)
    return max(reader.tail(directory)[0], named) + 1


async def _reapply(directory: Path, found: Checkpoint, applier: Applier, lookback: float,
                   done: Recovery) -> None:
    since = None if found.received_at is None else found.received_at - timedelta(
        seconds=lookback)
    warm = [r for r in reader.records(directory, since=since) if r.seq <= found.seq] \
        if lookback > 0 and since is not None else []
    for record in warm:
        applier.warm(record)
    applier.continue_from(found.state.get("last_seq", []))
    done.counts = await apply_all(applier, _this_run(reader.records(
        directory, after_seq=found.seq, reports=done.reports), found.state.get("run_start")),
        lambda record: True)
    log.info("journal: recovered %d frames after checkpoint %d: %d rows added, %d quarantined",
             done.counts["frames"], found.seq, done.counts["rows_added"],
             done.counts["quarantined"])


def _this_run(records, run_start: int | None):
    """The records up to the next process's first: a later run may have fed another database
    (the same journal, another DSN), and its rows are not this one's to recover."""
    for record in records:
        if record.run_start and record.seq != run_start:
            return
        yield record


def crash_breaks(found: Checkpoint, applier: Applier) -> list[Break]:
    """One break per subscription of the dead process's last connections: as many as were live
    at the checkpoint (at least one), the ones that received a frame most recently."""
    state = found.state
    sessions = {conn: {int(sid): ch for sid, ch in channels.items()}
                for conn, channels in (state.get("sessions") or {}).items()}
    if state.get("connection_id"):  # a checkpoint of one connection (before shards)
        sessions.setdefault(state["connection_id"], {
            int(sid): ch for sid, ch in (state.get("channels") or {}).items()})
    for (conn, sid), channel in applier.channels.items():
        sessions.setdefault(conn, {})[sid] = channel
    heard = lambda conn: applier.last_at.get(conn, found.received_at)  # noqa: E731
    never = datetime.min.replace(tzinfo=timezone.utc)
    live = sorted(sessions, key=lambda conn: heard(conn) or never, reverse=True)
    now = datetime.now(timezone.utc)
    return [Break(conn, sid, channel, "crash", None, heard(conn), now)
            for conn in live[:max(1, len(state.get("sessions") or {}))]
            for sid, channel in sorted(sessions[conn].items())]
