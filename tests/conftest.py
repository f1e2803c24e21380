"""Shared fixtures: real PostgreSQL clusters started by the test session (no mocks).

`server` is parametrized over both storage paths: plain PostgreSQL always, TimescaleDB where
the server in KSTORE_PG_BIN (or the system's) has it, else skipped with the reason printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from kstore.pgcluster import find_pg_bin
from kstore.testing import ScratchServer, storage_paths

REPO_ROOT = Path(__file__).resolve().parents[1]
PG_BIN = find_pg_bin(Path(os.environ["KSTORE_PG_BIN"]) if os.environ.get("KSTORE_PG_BIN") else None)


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
    """The real CLI in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "kstore.cli", *args], capture_output=True, text=True,
        env=os.environ | (env or {}), timeout=timeout, cwd=REPO_ROOT,
    )
