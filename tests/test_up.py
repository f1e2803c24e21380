"""`kstore up` end to end: simulator, three gatherers, deduplicator, supervised, with faults,
then `kstore audit --target production` demands exactness (the platform's own check), and the
lake's done-when: `kstore export --once && kstore transform && kstore query "select count(*)
from raw_trades"` equals production's trade count, the current hour included (decision 0015)."""

from __future__ import annotations

import json

import psycopg

from conftest import run_kstore


def test_up_with_faults_merges_exactly_the_truth(embedded):
    env, home = embedded
    truth = home / "t.jsonl"
    up = run_kstore("up", "--seed", "7", "--duration", "15", "--rate", "300", "--truth",
                    str(truth), "--faults", "gaps,disconnects,malformed",
                    "--disconnect-every", "5", env=env, timeout=240)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "every gatherer flushed and merged" in up.stdout

    audit = run_kstore("audit", "--truth", str(truth), "--target", "production", env=env)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    simulator_log = (home / "logs" / "simulator.log").read_text()
    assert "'disconnects': 0" not in simulator_log and "'dropped': 0" not in simulator_log

    for step in (["export", "--once"], ["transform"]):
        done = run_kstore(*step, env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    query = run_kstore("query", "select count(*) as n from raw_trades", "--format", "csv",
                       env=env)
    assert query.returncode == 0, query.stdout + query.stderr
    port = json.loads((home / "topology.json").read_text())["clusters"]["production"]["port"]
    with psycopg.connect(f"host=127.0.0.1 port={port} dbname=production user=postgres") as conn:
        trades = conn.execute("select count(*) from kstore.trades").fetchone()[0]
    assert trades > 0 and query.stdout.split() == ["n", str(trades)], \
        "the lake holds exactly production's trades, though the hour has not ended"


def test_children_get_the_parents_config_and_exchange(tmp_path):
    """`kstore --config x.toml up` runs every child on x.toml; `--exchange` starts no
    simulator and points every gatherer at the exchange named."""
    from kstore import up
    from kstore.commands.up import exchange_of
    from kstore.settings import load

    config = tmp_path / "x.toml"
    config.write_text(f'home = "{tmp_path / "home"}"\n')
    settings = load(config)
    real = exchange_of("kalshi-demo", settings)
    procs = up.children(settings, [], config, real)
    scheduled = [job.child for job in up.jobs(settings, procs, config)]

    assert [c.name for c in procs] == ["g1", "g2", "g3", "dedup", "exporter"]
    for child in procs + scheduled:
        assert child.command[3:5] == ["--config", str(config.resolve())], child.command
        assert child.env["KSTORE_KALSHI__WS_URL"] == real.ws_url
        assert child.env["KSTORE_KALSHI__REST_URL"] == real.rest_url
    assert [c.name for c in scheduled] == ["maintain", "transform", "reconcile", "journal export"]
    simulated = up.children(settings, ["--seed", "3"])
    assert simulated[0].name == "simulator" and "--config" not in simulated[0].command
    assert simulated[1].env["KSTORE_KALSHI__WS_URL"].startswith("ws://127.0.0.1:")
    assert exchange_of("settings", settings).ws_url == settings.kalshi.ws_url
    assert exchange_of("wss://x/trade-api/ws/v2,https://x/trade-api/v2", settings).rest_url \
        == "https://x/trade-api/v2"


def test_up_twice_on_one_home(embedded):
    """`make up` on a used home: a second run of the same (default) seed adds its own trades,
    maintenance ran, the final transform passes (dbt's unique trade ids) and the audit of each
    run is exact after both; a clean stop is not a lost connection."""
    env, home = embedded
    truths = [home / "first.jsonl", home / "second.jsonl"]
    for truth in truths:
        up = run_kstore("up", "--duration", "8", "--rate", "200", "--truth", str(truth),
                        env=env, timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "every gatherer flushed and merged" in up.stdout
        assert "object at 0x" not in up.stdout + up.stderr

    for truth in truths:  # each run's own: the second run's rows are out of the first's (0088)
        audit = run_kstore("audit", "--truth", str(truth), "--target", "production", env=env)
        assert audit.returncode == 0, audit.stdout + audit.stderr
    port = json.loads((home / "topology.json").read_text())["clusters"]["production"]["port"]
    with psycopg.connect(f"host=127.0.0.1 port={port} dbname=production user=postgres") as conn:
        trades, ids = conn.execute(
            "select count(*), count(distinct trade_id) from kstore.trades").fetchone()
    first = sum(1 for line in truths[0].read_text().splitlines() if '"table":"trades"' in line)
    assert trades == ids > first > 0, "both runs' trades, each id once"
    assert "maintenance done" in (home / "logs" / "maintain.log").read_text()
    transform = (home / "logs" / "final-transform.log").read_text()
    assert transform.count("\n") < 20 and "dbt build:" in transform, transform
    for gid in ("g1", "g2", "g3"):
        assert "no close frame" not in (home / "logs" / f"{gid}.log").read_text()


def test_up_against_an_exchange_it_did_not_start(embedded):
    """`kstore up --exchange WS_URL,REST_URL`: no simulator child, the gatherers capture the
    exchange named (here a simulator run apart, as a real exchange would be), `--duration` is a
    deadline, and production then holds exactly what that exchange sent."""
    import signal
    import subprocess
    import sys

    from conftest import kstore_env
    from kstore.pgcluster import free_port

    env, home = embedded
    port, truth = free_port(), home / "exchange.jsonl"
    exchange = subprocess.Popen(  # serves until SIGINT; its feed: 1200 events once 3 subscribed
        [sys.executable, "-m", "kstore.cli", "simulate", "--port", str(port), "--max-events",
         "1200", "--rate", "150", "--wait-for-subscribers", "3", "--truth", str(truth)],
        env=kstore_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = run_kstore("up", "--exchange", f"ws://127.0.0.1:{port}/trade-api/ws/v2,"
                        f"http://127.0.0.1:{port}/trade-api/v2", "--duration", "25",
                        env=env, timeout=400)
    finally:
        exchange.send_signal(signal.SIGINT)  # a clean stop: the truth file is complete
        exchange.wait(30)
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"ws://127.0.0.1:{port}/trade-api/ws/v2" in up.stdout
    assert "simulator" not in up.stdout and not (home / "logs" / "simulator.log").exists()
    audit = run_kstore("audit", "--truth", str(truth), "--target", "production", env=env)
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_up_refuses_bad_simulator_options_before_starting_anything(tmp_path):
    """What `kstore up` passes on to its simulator is checked first, as `kstore simulate` checks
    it: one line, exit non-zero, and no database, log or child started (decision 0089)."""
    home = tmp_path / "home"
    env = {"KSTORE_HOME": str(home)}
    refused = run_kstore("simulate", "--faults", "bogus", env=env)
    assert refused.returncode == 1 and "unknown fault(s) ['bogus']" in refused.stderr
    cases = {("--faults", "bogus"): refused.stderr,
             ("--faults", "gaps,,slow,bogus"): "unknown fault(s) ['bogus']",
             ("--truth", str(tmp_path / "no" / "t.jsonl")): "--truth",
             ("--truth", str(tmp_path)): "--truth",
             ("--rate", "0"): "must be above 0", ("--markets", "x"): "not a number",
             ("--disconnect-every", "-1"): "must be above 0", ("--seed", "1.5"): "--seed"}
    for args, reason in cases.items():
        up = run_kstore("up", *args, "--duration", "5", env=env, timeout=60)
        assert up.returncode != 0 and up.stdout == "", (args, up.stdout, up.stderr)
        assert reason in up.stderr and len(up.stderr.splitlines()) == 1, (args, up.stderr)
        assert not (home / "logs").exists() and not (home / "topology.json").exists(), args


def test_a_simulator_that_fails_ends_the_run(tmp_path, capsys):
    """A simulator that exits with an error fails the run (with or without a duration): not a
    feed that ended, not a child to restart (a restart is another run, its truth file
    rewritten); the reason is its own last line, the exit 1 (decision 0089)."""
    from conftest import kstore_env
    from kstore import up
    from kstore.settings import load

    config = tmp_path / "x.toml"
    config.write_text(f'home = "{tmp_path / "home"}"\n')
    settings = load(config)
    (tmp_path / "home").mkdir()
    bad = ["simulate", "--port", "0", "--faults", "bogus"]  # the real simulator, refusing
    for feed_ends in (True, False):
        simulator = up.Child("simulator", [*up.kstore_command(config), *bad],
                             tmp_path / f"simulator-{feed_ends}.log", kstore_env())
        simulator.start()
        failure = up._supervise(settings, [simulator], [], feed_ends, None, [])
        assert failure.startswith("the simulator exited with 1: kstore: error: invalid faults")
        assert simulator.restarts == 0
        assert up._shutdown(settings, [simulator], config, [], failure) == 1
    assert "kstore up: failed: the simulator exited with 1" in capsys.readouterr().out
