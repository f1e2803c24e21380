"""Mutated frames through a live gatherer: `kstore bench fuzz --frames N`.

The simulator (its own process, `--faults fuzz`, kstore.simulator.mutations) follows every
trade, ticker and order-book delta frame with a mutated copy of it: byte flips, truncation,
deep nesting, huge numbers, exponent and signed decimals, lower-case tickers, duplicate keys,
invalid UTF-8, binary frames, NUL, lone surrogates, a BOM, trailing data, seq > 2^63, ... The
gatherer is a real `kstore gather` process writing into a throw-away cluster. At the end:
- crashes: the gatherer exited before it was told to stop, or not with 0 within 60 s of SIGTERM;
- lost valid neighbours: the audit against the simulator's truth file (every valid frame) finds
  missing or mismatched rows (a valid frame in quarantine is missing from its table); for
  trades, a valid trade with no row equal to it (`trades_not_as_sent`);
- each mutant is matched by the sha256 of its bytes with quarantine.raw: quarantined, or it
  stayed valid (a seq duplicate, a key already stored, or a new row: the audit's extra and
  duplicated rows, which must not exceed the mutants that stayed valid).
Exit status 0 only with 0 crashes and 0 lost valid neighbours. Counts, not times, are the
result; the frames/s of the run is printed for the record.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from kstore import audit
from kstore.bench import measure
from kstore.bench.capture import _summary, _wait_for_port
from kstore.pgcluster import find_pg_bin, free_port
from kstore.settings import Settings, SettingsError
from kstore.simulator.mutations import MUTATIONS, mutation_names
from kstore.testing import ScratchServer
from kstore.topology import Database

WRITER = "kstore_gatherer_writer"
STOP_TIMEOUT = 60
STABLE = 5  # seconds without a new committed row after the feed: the gatherer is done
TABLES = ("trades", "orderbook_deltas", "tickers", "orderbook_snapshots", "quarantine")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kstore bench fuzz` (the CLI adds them to its subcommand)."""
    parser.add_argument("--frames", type=measure.positive(), default=20_000,
                        help="mutated frames to send (default: %(default)s)")
    parser.add_argument("--rate", type=measure.positive(float), default=2_000,
                        help="valid events/s, each followed by one mutant (default: %(default)s)")
    parser.add_argument("--markets", type=measure.positive(), default=20,
                        help="markets the simulator lists")
    parser.add_argument("--seed", type=int, default=1,
                        help="simulator seed (same seed, same mutants)")
    parser.add_argument("--mutations", default="", help="comma list (default: all): "
                        + ",".join(MUTATIONS))
    parser.add_argument("--exclude", default="", help="comma list of mutations to leave out")


def mutations(args: argparse.Namespace) -> list[str]:
    """The mutations of this run: --mutations (all by default) without --exclude."""
    try:
        chosen = mutation_names(args.mutations) or tuple(MUTATIONS)
        left_out = set(mutation_names(args.exclude))
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    names = [name for name in chosen if name not in left_out]
    if not names:
        raise SettingsError("--exclude leaves no mutation to send")
    return names


def run(args: argparse.Namespace, settings: Settings) -> int:
    """One fuzz run on a throw-away cluster; prints the report; exit status 0 when nothing
    crashed and nothing was lost."""
    names = mutations(args)
    server = ScratchServer("plain", find_pg_bin(settings.pg_bin)).start()
    try:
        with tempfile.TemporaryDirectory(prefix="kstore-fuzz-") as tmp:
            result = fuzz(server, settings, args, names, Path(tmp))
    finally:
        server.stop()
    print(report(result))
    return 0 if passed(result) else 1


def fuzz(server: ScratchServer, settings: Settings, args, names: list[str], tmp: Path) -> dict:
    """Runs simulator and gatherer until the feed ended and every frame is committed; returns
    what `report` prints."""
    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    port, started = free_port(), time.monotonic()
    simulator = _simulator(port, args, names, tmp)
    gatherer = None
    try:
        _wait_for_port(port)
        gatherer = _gatherer(port, ts, rel, tmp)
        died = _wait_feed(simulator, gatherer, ts.dsn, args.frames / args.rate)
        seconds = time.monotonic() - started
        exit_code = _stop(gatherer)
    finally:
        for process in (simulator, gatherer):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    simulator_summary = _summary((tmp / "simulator.log").read_text())
    local = settings.model_copy(update={"gatherers": ["g1"],
                                        "dsn": {"g1_ts": ts.dsn, "g1_rel": rel.dsn}})
    truth = audit.load_truth(tmp / "truth.jsonl")
    return {"died": died, "exit_code": exit_code, "seconds": seconds,
            "simulator": simulator_summary, "mutants": classify(ts.dsn, tmp / "mutants.tsv"),
            "audit": audit.audit(local, truth, "g1"),
            "trades_not_as_sent": trades_not_as_sent(ts.dsn, truth),
            "gatherer": _last_json((tmp / "gatherer.out").read_text()),
            "stderr": (tmp / "gatherer.err").read_text()[-2000:]}


def _last_json(output: str) -> dict:
    """The gatherer's summary (its last stdout line); {} when it printed none (it died)."""
    lines = output.strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else {}
    except ValueError:
        return {}


def _simulator(port: int, args, names: list[str], tmp: Path) -> subprocess.Popen:
    """The exchange: `frames` events at `rate`, each followed by one mutant, until stopped; no
    lifecycle changes (their REST re-fetch is not what is fuzzed), no error 25 (no buffer
    limit: a gatherer that falls behind is slowed, not cut off)."""
    command = [sys.executable, "-m", "kstore.simulator", "--port", str(port),
               "--seed", str(args.seed), "--markets", str(args.markets), "--rate", str(args.rate),
               "--max-events", str(args.frames),
               "--lifecycle-rate", "0", "--faults", "fuzz", "--malformed-probability", "1",
               "--buffer-limit", str(10 ** 9), "--truth", str(tmp / "truth.jsonl"),
               "--fuzz-log", str(tmp / "mutants.tsv"), "--fuzz-mutations", ",".join(names)]
    with open(tmp / "simulator.log", "w") as log:  # SIGINT stops it, even from a background job
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _gatherer(port: int, ts: Database, rel: Database, tmp: Path) -> subprocess.Popen:
    """`kstore gather --gatherer g1` on the two databases; REST rounds out of the way."""
    overrides = {
        "KSTORE_GATHERERS": '["g1"]', "KSTORE_DSN__G1_TS": ts.dsn_as(WRITER),
        "KSTORE_DSN__G1_REL": rel.dsn_as(WRITER),
        "KSTORE_KALSHI__WS_URL": f"ws://127.0.0.1:{port}/trade-api/ws/v2",
        "KSTORE_KALSHI__REST_URL": f"http://127.0.0.1:{port}/trade-api/v2",
        "KSTORE_GATHER__SNAPSHOT_INTERVAL": "3600", "KSTORE_GATHER__REGISTRY_INTERVAL": "3600",
        "KSTORE_GATHER__STATUS_INTERVAL": "30",
    }
    # The benchmark's own environment (PATH, a KSTORE_PG_BIN, ...), with the gatherer's wiring.
    env = os.environ | overrides
    return subprocess.Popen([sys.executable, "-m", "kstore.cli", "gather", "--gatherer", "g1"],
                            env=env, stdout=open(tmp / "gatherer.out", "w"),
                            stderr=open(tmp / "gatherer.err", "w"))


def _wait_feed(simulator: subprocess.Popen, gatherer: subprocess.Popen, dsn: str,
               feed: float) -> bool:
    """Waits until the feed's time is over and the gatherer's committed rows stopped changing
    for STABLE s, then stops the simulator (SIGINT: it flushes and logs its summary); True
    when the gatherer died meanwhile."""
    stable, last, until = 0, None, time.monotonic() + feed
    while stable < STABLE:
        time.sleep(1)
        if gatherer.poll() is not None:
            return True
        count = _stored(dsn)
        stable, last = (stable + 1 if count == last and time.monotonic() > until else 0), count
    simulator.send_signal(signal.SIGINT)
    simulator.wait(STOP_TIMEOUT)
    return False


def _stored(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return sum(conn.execute(f"select count(*) from kstore.{table}").fetchone()[0]
                   for table in TABLES)


def _stop(gatherer: subprocess.Popen) -> int | None:
    """SIGTERM, then its exit code; None when it did not exit within STOP_TIMEOUT."""
    if gatherer.poll() is None:
        gatherer.send_signal(signal.SIGTERM)
    try:
        return gatherer.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None


CLASSIFY = """
with mutant as (
    select name, digest, row_number() over (partition by digest) as nth from mutants
), held as (
    select encode(sha256(raw), 'hex') as digest,
        row_number() over (partition by encode(sha256(raw), 'hex')) as nth
    from kstore.quarantine
)
select name, count(*) as sent, count(held.digest) as quarantined
from mutant left join held using (digest, nth)
group by name
union all
select '', count(*), 0 from held
where not exists (select from mutant where mutant.digest = held.digest and mutant.nth = held.nth)
"""


def classify(dsn: str, log: Path) -> dict[str, dict[str, int]]:
    """Per mutation: sent, quarantined (matched with quarantine.raw by sha256, with
    multiplicity), stayed valid; under "" the quarantine rows that match no mutant."""
    with psycopg.connect(dsn) as conn:
        conn.execute("create temp table mutants (name text, digest text)")
        with conn.cursor().copy("copy mutants from stdin") as copy, open(log, "rb") as lines:
            while block := lines.read(1 << 20):
                copy.write(block)
        rows = conn.execute(CLASSIFY).fetchall()
    return {name: {"sent": sent, "quarantined": held, "valid": sent - held}
            for name, sent, held in rows if name or sent}


EXACT_TRADES = """
select count(*) from truth_trades as t where not exists (
    select from kstore.trades as s
    where (s.trade_id, s.ts, s.yes_price, s.no_price, s.count)
        = (t.trade_id, t.ts, t.yes_price, t.no_price, t.count))
"""


def trades_not_as_sent(dsn: str, truth: audit.Truth) -> int:
    """Valid trades with no row equal to them in every audited column. The audit's
    `mismatched` compares one value per trade_id, so a mutant that stayed valid as a second row
    of the same trade_id (a byte flip in ts_ms) shows there although the valid row is intact."""
    with psycopg.connect(dsn) as conn:
        conn.execute(f"create temp table truth_trades ({audit.RULES['trades'].columns})")
        with conn.cursor().copy("copy truth_trades from stdin") as copy:
            for row in truth["trades"]:
                copy.write_row(row)
        return conn.execute(EXACT_TRADES).fetchone()[0]


def lost(result: dict) -> int:
    """Valid frames not stored as sent: the audit's missing rows (a valid frame in quarantine
    is missing from its table), its mismatched rows but for trades, and the trades not stored
    exactly as sent."""
    tables = audit.compared(result["audit"])
    return (sum(r["missing"] for r in tables.values()) + result["trades_not_as_sent"]
            + sum(r["mismatched"] for table, r in tables.items() if table != "trades"))


def crashes(result: dict) -> int:
    return int(result["died"] or result["exit_code"] != 0)


def passed(result: dict) -> bool:
    return crashes(result) == 0 and lost(result) == 0


def report(result: dict) -> str:
    mutants = {name: c for name, c in result["mutants"].items() if name}
    sent = sum(c["sent"] for c in mutants.values())
    valid = sum(c["valid"] for c in mutants.values())
    tables = audit.compared(result["audit"]).values()
    new_rows = sum(r["extra"] + r["duplicated"] for r in tables)
    lines = [f"{'mutation':<22}{'sent':>10}{'quarantined':>13}{'stayed valid':>14}"]
    lines += [f"{name:<22}{c['sent']:>10}{c['quarantined']:>13}{c['valid']:>14}"
              for name, c in sorted(mutants.items())]
    events = result["simulator"].get("events", 0)
    lines += [
        audit.render(result["audit"]),
        f"mutated frames {sent}, valid events {events}: fed in"
        f" {result['simulator'].get('feed_seconds', 0):.0f} s, all committed after"
        f" {result['seconds']:.0f} s"
        f" ({(sent + events) / max(result['seconds'], 1e-9):.0f} frames/s)",
        f"crashes {crashes(result)} (died before stop: {result['died']}, exit code on SIGTERM:"
        f" {result['exit_code']}); lost valid neighbours {lost(result)}"
        f" (trades not stored exactly as sent: {result['trades_not_as_sent']};"
        f" quarantine rows that are no mutant's bytes: rows the database refused, stored as"
        f" a row dump, or valid frames: {result['mutants'].get('', {}).get('sent', 0)})",
        f"mutants quarantined {sent - valid}, stayed valid {valid}: rows they added {new_rows}"
        f" (extra + duplicated, at most the mutants that stayed valid: {new_rows <= valid})",
    ]
    lines.append(_gatherer_line(result["gatherer"]))
    if crashes(result):
        lines.append("gatherer stderr (tail):\n" + result["stderr"])
    return "\n".join(lines)


def _gatherer_line(summary: dict) -> str:
    stream = summary.get("stream", {})
    return (f"gatherer: frames {stream.get('frames')}, quarantined {stream.get('quarantined')},"
            f" seq duplicates {stream.get('duplicates')}, connections {summary.get('connects')}"
            f" (frames queued for a lost connection are never sent: the audit counts them"
            f" missing)")
