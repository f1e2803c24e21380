"""Real PostgreSQL for tests and checks: throw-away clusters and freshly migrated databases.

`python -m kstore.testing pgtap` starts a temporary cluster per available storage path (plain
always; TimescaleDB where the server has it), migrates one database of each kind, loads
tests/pgtap/helpers.sql into it and runs pg_prove over the kind's folders of tests/pgtap/
(PGTAP_FOLDERS) against it. pytest uses the same pieces (tests/conftest.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg
from psycopg import sql

from kstore import dedup, migrate
from kstore.pgcluster import Cluster, find_pg_bin, free_port, has_timescaledb
from kstore.roles import GATHERER_READER
from kstore.settings import Settings, load
from kstore.topology import PRODUCTION, Database

KINDS = ("gatherer_ts", "gatherer_rel", "production")
# The folders of tests/pgtap/ run against each kind, as migrate.SQL_FOLDERS for definitions:
# common (every database), gatherer (both databases of a gatherer cluster: its roles),
# timeseries and reference (the tables production shares with the gatherers), then its own.
PGTAP_FOLDERS = {
    "gatherer_ts": ("common", "gatherer", "timeseries", "gatherer_ts"),
    "gatherer_rel": ("common", "gatherer", "reference", "gatherer_rel"),
    "production": ("common", "timeseries", "reference", "production"),
}
PGTAP_HELPERS = "helpers.sql"  # schema tap, shared by the test files of every folder


def storage_paths(pg_bin: Path) -> dict[str, str | None]:
    """Each storage path with None when it can run here, else the reason it cannot."""
    reason = None if has_timescaledb(pg_bin) else (
        f"TimescaleDB is not installed for the PostgreSQL server in {pg_bin} "
        "(set KSTORE_PG_BIN to a server that has it)"
    )
    return {"plain": None, "timescaledb": reason}


@dataclass
class ScratchServer:
    """One throw-away cluster on one storage path; databases are created on demand."""

    storage: str
    pg_bin: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kstore-test-")))
    cluster: Cluster | None = None
    counter: int = 0

    def start(self) -> ScratchServer:
        self.cluster = Cluster(self.root / "pg", free_port(), self.pg_bin,
                               timescaledb=self.storage == "timescaledb")
        self.cluster.init()
        self.cluster.start()
        return self

    def settings(self, **overrides) -> Settings:
        mode = "on" if self.storage == "timescaledb" else "off"
        return load(None, home=self.root / "home", timescaledb=mode, pg_bin=self.pg_bin,
                    **overrides)

    def database(self, kind: str, name: str | None = None, migrated: bool = True,
                 settings: Settings | None = None) -> Database:
        """A new empty database of this kind, migrated unless asked otherwise."""
        self.counter += 1
        dbname = name or f"{kind}_{self.counter}"
        with psycopg.connect(self.cluster.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
        db = Database(dbname, "test", dbname, kind, self.cluster.dsn(dbname), embedded=True)
        if migrated:
            migrate.apply(db, settings or self.settings())
        return db

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# The roles one deduplicator process connects as, per database kind (the rel databases are
# only read through postgres_fdw, as kstore_gatherer_reader).
DEDUP_ROLES = {"production": dedup.DEDUP, "gatherer_ts": dedup.ACK,
               "gatherer_rel": GATHERER_READER}


@dataclass
class ScratchTopology:
    """Gatherer clusters and a production cluster on one storage path, as deployed: production
    reads each gatherer through postgres_fdw over TCP. `fresh()` makes and attaches a new set of
    migrated databases; `settings()` names them as one process sees them (DSNs per role)."""

    storage: str
    pg_bin: Path
    gatherers: tuple[str, ...] = ("g1", "g2", "g3")
    servers: dict[str, ScratchServer] = field(default_factory=dict)

    def start(self) -> ScratchTopology:
        self.servers = {name: ScratchServer(self.storage, self.pg_bin)
                        for name in (*self.gatherers, PRODUCTION)}
        try:
            with ThreadPoolExecutor(len(self.servers)) as pool:
                list(pool.map(ScratchServer.start, self.servers.values()))
        except BaseException:
            self.stop()
            raise
        return self

    def fresh(self) -> dict[str, Database]:
        """New migrated databases named as in settings (g1_ts, g1_rel, …, production), with
        every gatherer attached to production (as the owner, like `kstore migrate`)."""
        def make(cluster: str) -> dict[str, Database]:
            server = self.servers[cluster]
            if cluster == PRODUCTION:
                return {PRODUCTION: replace(server.database("production"), name=PRODUCTION,
                                            cluster=PRODUCTION)}
            return {f"{cluster}_{short}": replace(server.database(f"gatherer_{short}"),
                                                  name=f"{cluster}_{short}", cluster=cluster)
                    for short in ("ts", "rel")}
        dbs: dict[str, Database] = {}
        with ThreadPoolExecutor(len(self.servers)) as pool:
            for made in pool.map(make, self.servers):
                dbs |= made
        dedup.attach(self.settings(dbs), dbs[PRODUCTION])
        return dbs

    def settings(self, dbs: dict[str, Database], roles: dict[str, str] | None = None,
                 **overrides) -> Settings:
        """Settings whose DSNs point at `dbs`, each as the role `roles` gives its kind
        (default: the owner)."""
        return self.servers[PRODUCTION].settings(
            gatherers=list(self.gatherers), dsn=role_dsns(dbs, roles or {}), **overrides)

    def stop(self) -> None:
        with ThreadPoolExecutor(max(1, len(self.servers))) as pool:
            list(pool.map(ScratchServer.stop, self.servers.values()))


def role_dsns(dbs: dict[str, Database], roles: dict[str, str]) -> dict[str, str]:
    """Each database's DSN, connecting as the role given for its kind (else as it is)."""
    return {name: db.dsn_for(roles.get(db.kind)) for name, db in dbs.items()}


def run_pgtap(repo_root: Path, pg_bin: Path) -> int:
    """pg_prove over each kind's PGTAP_FOLDERS on every storage path here; returns the exit code."""
    failures = 0
    for storage, reason in storage_paths(pg_bin).items():
        if reason:
            print(f"pgtap: SKIP {storage} path: {reason}", flush=True)
            continue
        server = ScratchServer(storage, pg_bin).start()
        try:
            for kind in KINDS:
                failures += _prove(server, kind, repo_root)
        finally:
            server.stop()
    return 1 if failures else 0


def _prove(server: ScratchServer, kind: str, repo_root: Path) -> int:
    pgtap = repo_root / "tests" / "pgtap"
    tests = [test for folder in PGTAP_FOLDERS[kind]
             for test in sorted((pgtap / folder).glob("test_*.sql"))]
    if not tests:
        return 0
    db = server.database(kind)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute("create extension if not exists pgtap")
        conn.execute((pgtap / PGTAP_HELPERS).read_text())
    print(f"pgtap: {server.storage} path, {kind}", flush=True)
    command = ["pg_prove", "--ext", ".sql", "-h", "127.0.0.1", "-p", str(server.cluster.port),
               "-U", "postgres", "-d", db.dbname, *map(str, tests)]
    return subprocess.run(command).returncode != 0


def main(argv: list[str]) -> int:
    if argv[:1] != ["pgtap"]:
        print("usage: python -m kstore.testing pgtap", file=sys.stderr)
        return 2
    settings = load()
    return run_pgtap(settings.repo_root, find_pg_bin(settings.pg_bin))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
