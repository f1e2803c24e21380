"""Crash recovery from the journal (decision 0036): a gatherer killed with `kill -9` loses
nothing it had journaled, and recovery makes the rows an uninterrupted run makes."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import psycopg

from conftest import REPO_ROOT, kstore_env
from kstore import audit, roles
from kstore.gatherer.rows import TABLE_COLUMNS
from kstore.gatherer.run import Gatherer
from kstore.gatherer.stream import fingerprint
from kstore.journal import checkpoint, reader, recovery
from kstore.journal.apply import Applier, apply_all
from kstore.journal.checkpoint import Checkpoint
from kstore.journal.writer import journal_id
from kstore.simulator import SimulatorOptions, SimulatorThread

WRITER = roles.GATHERER_WRITER
TIME_SERIES = ("trades", "orderbook_deltas", "tickers")
TOLERANCE = timedelta(days=1)


def simulate(tmp_path, **options) -> SimulatorThread:
    defaults = dict(port=0, seed=11, markets=8, rate=400, duration=4,
                    truth=tmp_path / "t.jsonl", ping_interval=None, lifecycle_rate=0.5)
    return SimulatorThread(SimulatorOptions(**(defaults | options)))


def rows(dsn: str) -> dict[str, Counter]:
    """Every row of each table the frames make, as a multiset of its TABLE_COLUMNS values
    (REST books aside: they are not frames)."""
    found = {}
    with psycopg.connect(dsn) as conn:
        for table, columns in TABLE_COLUMNS.items():
            where = " where source = 'ws'" if table == "orderbook_snapshots" else ""
            listed = ", ".join(columns[1:] if table == "quarantine" else columns)
            found[table] = Counter(tuple(tuple(v) if isinstance(v, list) else v for v in row)
                                   for row in conn.execute(
                                       f"select {listed} from kstore.{table}{where}"))
        found["gaps"] = Counter(conn.execute(
            "select connection_id, sid, expected_seq, received_seq, recovered_at is not null"
            " from kstore.feed_gaps where cause = 'seq_jump'"))
    return found


def test_recovery_after_a_checkpoint_makes_the_rows_of_an_uninterrupted_run(server, tmp_path):
    """A live run with twin deltas, duplicate and malformed frames; then a fresh
    database holding only the frames up to a checkpoint in the middle, recovered from the
    journal: every table equals the live run's, dup ordinals and seq checks included."""
    live_ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    directory = tmp_path / "journal"
    with simulate(tmp_path, faults="duplicates,malformed", rate=600) as sim:
        settings = server.settings(
            gatherers=["g1"], dsn={"g1_ts": live_ts.dsn_as(WRITER), "g1_rel": rel.dsn_as(WRITER)},
            kalshi={"ws_url": sim.ws_url, "rest_url": sim.rest_url},
            gather={"status_interval": 1, "snapshot_interval": 3600, "registry_interval": 3600,
                    "journal": {"directory": str(directory)}})
        summary = asyncio.run(Gatherer(settings, "g1").run(5))
    journal = directory / "g1"
    records = list(reader.records(journal))
    assert len(records) == summary["stream"]["frames"] > 300
    expected = rows(live_ts.dsn)
    assert summary["stream"]["duplicates"] and expected["quarantine"], "duplicates, bad frames"
    assert any(row[5] > 0 for row in expected["orderbook_deltas"]), "and twin deltas"

    cut = records[len(records) // 2]
    fresh = server.database("gatherer_ts")
    before = Applier("g1", fresh.dsn_as(WRITER), None, TOLERANCE)
    asyncio.run(apply_all(before, [r for r in records if r.seq <= cut.seq], lambda r: True))
    state = {"last_seq": [[c, sid, seq] for (c, sid), seq in before.stream.last_seq.items()],
             "run_start": 1}
    asyncio.run(checkpoint.write(fresh.dsn, "g1", Checkpoint(journal_id(journal), cut.seq,
                                                              cut.received_at, state)))
    done = asyncio.run(recovery.recover(journal, journal_id(journal), "g1",
                                        fresh.dsn_as(WRITER), None, TOLERANCE, 60))

    assert done.counts["frames"] == len(records) - cut.seq
    assert done.counts["warm_frames"] > 0
    assert {b.connection_id for b in done.breaks} == {records[-1].connection_id}, "the crash"
    assert {b.channel for b in done.breaks} >= {"orderbook_delta", "trade", "ticker"}
    assert rows(fresh.dsn) == expected
    found = asyncio.run(checkpoint.read(fresh.dsn, "g1"))
    assert (found.seq, done.next_seq) == (records[-1].seq, records[-1].seq + 1)


def test_kill_9_ten_times_loses_nothing_the_journal_received(server, tmp_path):
    """A lone gatherer killed with SIGKILL at a random moment of its capture 10 times,
    restarted each time, with rows held up to 2 s before their commit (so a kill leaves
    journaled rows uncommitted). The audit then misses exactly the events that are not in the
    journal: those sent while it was down (or in the last flush interval before a kill, which
    the journal never received), never one it journaled."""
    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    journal = tmp_path / "home" / "journal" / "g1"
    env = kstore_env({
        "KSTORE_GATHERERS": '["g1"]', "KSTORE_HOME": str(tmp_path / "home"),
        "KSTORE_DSN__G1_TS": ts.dsn_as(WRITER), "KSTORE_DSN__G1_REL": rel.dsn_as(WRITER),
        "KSTORE_GATHER__BATCH_DELAY": "2", "KSTORE_GATHER__BATCH_ROWS": "10000",
        "KSTORE_GATHER__SNAPSHOT_INTERVAL": "3600", "KSTORE_GATHER__REGISTRY_INTERVAL": "3600",
        "KSTORE_TIMESCALEDB": "on" if server.storage == "timescaledb" else "off",
    })
    rng, logs, unapplied = random.Random(2026), [], []
    with simulate(tmp_path, duration=None, rate=300, faults="duplicates") as sim:
        env |= {"KSTORE_KALSHI__WS_URL": sim.ws_url, "KSTORE_KALSHI__REST_URL": sim.rest_url}
        for _ in range(10):
            process = _gather(env, tmp_path, logs)
            _capturing(process, journal, logs)
            time.sleep(rng.uniform(0.3, 2.5))
            process.kill()
            process.wait(10)
            unapplied.append(_after_checkpoint(ts.dsn, journal))
        final = _gather(env, tmp_path, logs, duration=8)
        _capturing(final, journal, logs)
        assert final.wait(120) == 0, logs[-1].read_text()[-2000:]
    summary = json.loads(logs[-1].read_text().strip().splitlines()[-1])

    assert sum(unapplied) > 0, "kills left journaled frames whose rows were not committed"
    assert summary["journal"]["recovered"]["frames"] == unapplied[-1]
    records = list(reader.records(journal))
    seqs = [r.seq for r in records]
    assert seqs == sorted(set(seqs)), "one numbering, across runs"
    assert len(reader.segments(journal)) == 11, "one segment per run"
    settings = server.settings(gatherers=["g1"], dsn={"g1_ts": ts.dsn, "g1_rel": rel.dsn})
    full = audit.audit(settings, audit.load_truth(tmp_path / "t.jsonl"), "g1")
    received = _received_truth(tmp_path / "t.jsonl", records, tmp_path / "received.jsonl")
    exact = audit.audit(settings, audit.load_truth(received), "g1")
    for table in TIME_SERIES:
        assert full[table]["missing"] > 0, f"{table}: the kills cost events sent while down"
        assert exact[table]["missing"] == 0, f"{table}: a journaled event is missing"
        assert exact[table]["duplicated"] == exact[table]["extra"] == 0, table
    with psycopg.connect(ts.dsn) as conn:
        crashed = {row[0] for row in conn.execute(
            "select distinct connection_id from kstore.feed_gaps where cause = 'crash'")}
    killed = {r.connection_id for r in records if r.seq < reader.segments(journal)[-1].first_seq}
    assert crashed == killed and len(killed) >= 5, \
        "every killed connection the journal knows is a feed_gaps row per subscription"


def _capturing(process, journal, logs, timeout: float = 120) -> None:
    """Returns once the process journaled its first frame (it opened its own segment)."""
    before = len(reader.segments(journal)) if journal.exists() else 0
    deadline = time.monotonic() + timeout
    while len(reader.segments(journal)) <= before:
        assert process.poll() is None, logs[-1].read_text()[-2000:]
        assert time.monotonic() < deadline, "the gatherer never started capturing"
        time.sleep(0.1)


def _after_checkpoint(dsn: str, journal) -> int:
    """Journaled frames above the checkpoint: what the next start must apply again."""
    found = asyncio.run(checkpoint.read(dsn, "g1"))
    return sum(1 for _ in reader.records(journal, after_seq=found.seq))


def _gather(env: dict, tmp_path, logs: list, duration: float | None = None):
    log = tmp_path / f"gather-{len(logs)}.log"
    logs.append(log)
    extra = [] if duration is None else ["--duration", f"{duration:.1f}"]
    return subprocess.Popen([sys.executable, "-m", "kstore.cli", "gather", "--gatherer", "g1",
                             *extra], env=env, cwd=REPO_ROOT, stdout=open(log, "w"),  # noqa: SIM115
                            stderr=subprocess.STDOUT)


def _received_truth(truth, records, out):
    """The truth lines of the events some journaled frame carried (a multiset: twin deltas
    count twice only when both were journaled)."""
    seen: Counter = Counter()
    for record in records:
        try:
            message = json.loads(record.raw)
            kind, msg = message.get("type"), message.get("msg") or {}
        except (ValueError, AttributeError):
            continue
        key = _key(kind, msg)
        if key is not None:
            seen[key] += 1
    frames_per_seq = Counter()  # a duplicate frame (same sid and seq) is one event
    for record in records:
        try:
            message = json.loads(record.raw)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("seq") is not None:
            frames_per_seq[(record.connection_id, message.get("sid"), message["seq"],
                            _key(message.get("type"), message.get("msg") or {}))] += 1
    for (_, _, _, key), count in frames_per_seq.items():
        seen[key] -= count - 1
    kept = []
    for line in open(truth):
        event = json.loads(line)
        key = _key(TYPE_OF.get(event["table"]), event)
        if event["table"] not in TYPE_OF:
            kept.append(line)
        elif seen[key] > 0:
            seen[key] -= 1
            kept.append(line)
    out.write_text("".join(kept))
    return out


TYPE_OF = {"trades": "trade", "orderbook_deltas": "orderbook_delta", "tickers": "ticker"}


def _key(kind, msg: dict):
    if kind == "trade":
        return ("trade", msg.get("trade_id"))
    if kind == "orderbook_delta":
        return ("delta", msg.get("market_ticker"), int(msg.get("ts_ms") or 0), msg.get("side"),
                msg.get("price_dollars"), msg.get("delta_fp"))
    if kind == "ticker":
        payload = {k: v for k, v in msg.items() if k not in ("table", "index")}
        return ("ticker", msg.get("market_ticker"), fingerprint(payload))
    return None


def _trade(number: int, at) -> bytes:
    return json.dumps({"type": "trade", "sid": 3, "msg": {
        "trade_id": f"00000000-0000-4000-8000-{number:012d}", "market_ticker": "KXA-26DEC-B1",
        "yes_price_dollars": "0.4000", "no_price_dollars": "0.6000", "count_fp": "1.00",
        "taker_side": "yes", "ts_ms": int(at.timestamp() * 1000)}}).encode()


def test_recovery_applies_only_the_crashed_run_never_a_later_run_or_a_clean_one(server,
                                                                                 tmp_path):
    """One journal fed two databases in turn (a DSN changed): a restart on the first recovers
    the tail of its crashed run and stops at the next process's first frame; after a clean
    stop it recovers nothing."""
    from datetime import datetime, timezone

    from kstore.gatherer.parse import Frame
    from kstore.journal.writer import Writer

    directory, now = tmp_path / "g1", datetime.now(timezone.utc)
    ts = server.database("gatherer_ts")
    for run, numbers in enumerate((range(1, 11), range(11, 21))):
        writer = Writer(directory, numbers[0])
        for number in numbers:
            writer.append(Frame(_trade(number, now), now + timedelta(milliseconds=number),
                                f"conn{run}"))
        writer.close()
    jid = journal_id(directory)
    crashed = Checkpoint(jid, 4, now, {"run_start": 1, "connection_id": "conn0",
                                       "channels": {"3": "trade"}})
    asyncio.run(checkpoint.write(ts.dsn, "g1", crashed))
    done = asyncio.run(recovery.recover(directory, jid, "g1", ts.dsn_as(WRITER), None,
                                        TOLERANCE, 60))
    assert done.counts["frames"] == 6 and done.counts["rows"]["trades"] == 6
    assert [(b.connection_id, b.sid, b.cause) for b in done.breaks] == [("conn0", 3, "crash")]
    assert done.next_seq == 21

    clean = server.database("gatherer_ts")
    asyncio.run(checkpoint.write(clean.dsn, "g1", Checkpoint(jid, 4, now, {"clean": True})))
    done = asyncio.run(recovery.recover(directory, jid, "g1", clean.dsn_as(WRITER), None,
                                        TOLERANCE, 60))
    assert done.counts == {} and done.breaks == []
    other = asyncio.run(recovery.recover(directory, "another-journal", "g1", clean.dsn_as(WRITER),
                                         None, TOLERANCE, 60))
    assert other.counts == {} and other.breaks == []


def test_a_database_down_at_start_defers_recovery_without_stopping_capture(server, tmp_path):
    """The journal opens (numbering after what is on disk) while the database does not answer;
    the first checkpoint once it answers applies the last run's tail first."""
    from datetime import datetime, timezone

    from kstore.gatherer.parse import Frame
    from kstore.gatherer.writer import Writers
    from kstore.journal.live import LiveJournal
    from kstore.journal.writer import Writer

    directory, now = tmp_path / "journal", datetime.now(timezone.utc)
    ts = server.database("gatherer_ts")
    crashed = Writer(directory / "g1", 1)
    for number in range(1, 6):
        crashed.append(Frame(_trade(number, now), now, "conn0"))
    crashed.close()
    asyncio.run(checkpoint.write(ts.dsn, "g1", Checkpoint(journal_id(directory / "g1"), 2, now,
                                                          {"run_start": 1})))
    down = server.settings(gatherers=["g1"], dsn={"g1_ts": "host=127.0.0.1 port=1 dbname=x"},
                           gather={"journal": {"directory": str(directory)}})
    journal = LiveJournal(down, "g1", down.dsn["g1_ts"], None)
    asyncio.run(journal.open())
    assert journal.pending and journal.writer.first_seq == 6 and "recovery: OperationalError" \
        in " ".join(journal.errors)

    async def back_up() -> bool:
        journal.ts_dsn = ts.dsn_as(WRITER)
        journal.store = checkpoint.Store(journal.ts_dsn, "g1")
        writers = Writers(journal.ts_dsn, gatherer_id="g1")
        await writers.start()
        journal.writer.append(Frame(_trade(6, now), now, "conn1"))
        recorded = await journal.checkpoint(writers, lambda: {})
        await writers.close()
        await journal.store.close()
        journal.writer.close()
        return recorded

    assert asyncio.run(back_up())
    assert journal.recovered.counts["frames"] == 3, "frames 3-5 of the crashed run, not 6"
    with psycopg.connect(ts.dsn) as conn:
        assert conn.execute("select count(*) from kstore.trades").fetchone()[0] == 3
        assert conn.execute("select seq from ops.journal_checkpoints").fetchone()[0] == 6
