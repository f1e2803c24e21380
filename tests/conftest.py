"""Shared fixtures: real PostgreSQL clusters started by the test session (no mocks).

`server` is parametrized over both storage paths: plain PostgreSQL always, TimescaleDB where
the server in KSTORE_PG_BIN (or the system's) has it, else skipped with the reason printed.

Tests hold on every machine: no `KSTORE_*` variable of the shell that runs pytest reaches the
code under test, in this process or in a `kstore` subprocess; a test names what it needs.
KSTORE_PG_BIN is read once, here, and passed explicitly as PG_BIN.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from kstore.pgcluster import find_pg_bin
from kstore.testing import ScratchServer, ScratchTopology, storage_paths

REPO_ROOT = Path(__file__).resolve().parents[1]
PG_BIN = find_pg_bin(Path(os.environ["KSTORE_PG_BIN"]) if os.environ.get("KSTORE_PG_BIN") else None)


def kstore_variables(environ) -> list[str]:
    return [key for key in environ if key.startswith("KSTORE_")]


def kstore_env(env: dict | None = None) -> dict:
    """The environment of a `kstore` subprocess: this one's without any KSTORE_*, plus `env`."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("KSTORE_")}
    return inherited | (env or {})


@pytest.fixture(scope="session", autouse=True)
def _no_inherited_kstore_variables_in_the_session():
    """Session and module fixtures (servers, topologies) load settings too."""
    with pytest.MonkeyPatch.context() as patch:
        for key in kstore_variables(os.environ):
            patch.delenv(key)
        yield


@pytest.fixture(autouse=True)
def _no_kstore_variables(monkeypatch):
    """Each test starts without KSTORE_* (none leaks from an earlier test either)."""
    for key in kstore_variables(os.environ):
        monkeypatch.delenv(key)


def _start(storage: str):
    reason = storage_paths(PG_BIN)[storage]
    if reason:
        pytest.skip(reason)
    server = ScratchServer(storage, PG_BIN).start()
    return server


@pytest.fixture(scope="session")
def plain_server():
    started = _start("plain")
    yield started
    started.stop()


@pytest.fixture(scope="session")
def timescaledb_server():
    started = _start("timescaledb")
    yield started
    started.stop()


@pytest.fixture(params=["plain", "timescaledb"])
def storage(request) -> str:
    """Each storage path by name, for tests that start their own clusters (`kstore db up`);
    skipped with the reason where the server cannot run it."""
    reason = storage_paths(PG_BIN)[request.param]
    if reason:
        pytest.skip(reason)
    return request.param


@pytest.fixture
def embedded(storage):
    """An empty home for the embedded topology (`kstore db up`, `kstore up`) on each storage
    path (TimescaleDB where the server has it: `on` so that a plain fallback cannot pass for
    it): the environment naming it, and the home. Its clusters stop and it is removed after."""
    home = Path(tempfile.mkdtemp(prefix="kstore-home-"))
    home.chmod(0o755)  # as root, the postgres user must be able to reach the clusters
    env = {"KSTORE_HOME": str(home), "KSTORE_PG_BIN": str(PG_BIN),
           "KSTORE_TIMESCALEDB": "on" if storage == "timescaledb" else "off"}
    yield env, home
    run_kstore("db", "down", env=env)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module", params=["plain", "timescaledb"])
def scratch(request):
    """Three gatherer clusters and a production cluster on each storage path, shared by the
    module; skipped with the reason where the server cannot run it."""
    reason = storage_paths(PG_BIN)[request.param]
    if reason:
        pytest.skip(reason)
    started = ScratchTopology(request.param, PG_BIN).start()
    yield started
    started.stop()


@pytest.fixture
def dbs(scratch):
    """Fresh migrated databases (g1_ts, g1_rel, …, production), the gatherers attached."""
    return scratch.fresh()


@pytest.fixture(params=["plain", "timescaledb"])
def server(request):
    """A throw-away cluster on each storage path (shared by the session)."""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def production(server):
    """A freshly migrated production database; yields an autocommit connection."""
    db = server.database("production")
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def gatherer_ts(server):
    db = server.database("gatherer_ts")
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        yield conn


def run_kstore(*args: str, env: dict | None = None, timeout: float = 120):
    """The real CLI in a subprocess, as a user runs it, with only the KSTORE_* of `env`."""
    return subprocess.run(
        [sys.executable, "-m", "kstore.cli", *args], capture_output=True, text=True,
        env=kstore_env(env), timeout=timeout, cwd=REPO_ROOT,
    )


def gather_from_replay(server, frames: Path, anchor_ms: int, seconds: float = 3, **gather):
    """A real gatherer g1 on fresh ts/rel databases of `server`, fed by the replay of `frames`:
    (its summary, whether every recorded frame was sent, the ts DSN as owner, its settings)."""
    import asyncio

    from kstore import roles
    from kstore.gatherer.run import Gatherer
    from kstore.simulator import SimulatorOptions, SimulatorThread

    ts, rel = server.database("gatherer_ts"), server.database("gatherer_rel")
    writer = roles.GATHERER_WRITER
    options = SimulatorOptions(port=0, replay=frames, anchor_ms=anchor_ms, ping_interval=None)
    with SimulatorThread(options) as sim:
        settings = server.settings(
            gatherers=["g1"], dsn={"g1_ts": ts.dsn_as(writer), "g1_rel": rel.dsn_as(writer)},
            kalshi={"ws_url": sim.ws_url, "rest_url": sim.rest_url},
            gather={"status_interval": 1, "snapshot_interval": 3600, "registry_interval": 3600}
            | gather)
        summary = asyncio.run(Gatherer(settings, "g1").run(seconds))
        return summary, sim.sim.played.is_set(), ts.dsn, settings
