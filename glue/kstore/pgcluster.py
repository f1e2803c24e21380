"""A local PostgreSQL cluster in a directory: init, start, stop, status.

Used by the embedded topology (`kstore db up`) and by the test session. When invoked as root,
the server runs as the `postgres` user (initdb and pg_ctl refuse root). The cluster listens on
127.0.0.1 only, TCP only, and trusts local connections: it is a developer's embedded default,
never a deployment (see docs/decisions/0003-embedded-topology.md).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "200",
    "shared_buffers": "'128MB'",
    "fsync": "on",
    "timezone": "'UTC'",
    "log_min_messages": "warning",
    "logging_collector": "off",
    "max_locks_per_transaction": "256",
}
TIMESCALEDB_SETTINGS = {
    "shared_preload_libraries": "'timescaledb'",
    "timescaledb.telemetry_level": "off",
    # Policies run through `kstore maintain`, not TimescaleDB's scheduler (see DEVELOPERS.md).
    "timescaledb.max_background_workers": "0",
}


class ClusterError(RuntimeError):
    """A cluster could not be created, started or stopped; the message says why."""


def find_pg_bin(configured: Path | None = None) -> Path:
    """The directory with initdb/pg_ctl: the setting, else the newest /usr/lib/postgresql/N/bin."""
    if configured is not None:
        candidates = [Path(configured)]
    else:
        found = shutil.which("pg_config")
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major, reverse=True)
        if found:
            bindir = subprocess.run([found, "--bindir"], capture_output=True, text=True).stdout
            candidates.append(Path(bindir.strip()))
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise ClusterError(
        f"no PostgreSQL server binaries (initdb, pg_ctl) in {[str(c) for c in candidates]}: "
        "install postgresql-15 or set KSTORE_PG_BIN"
    )


def _major(path: Path) -> int:
    name = path.parent.name
    return int(name) if name.isdigit() else 0


def has_timescaledb(pg_bin: Path) -> bool:
    """True when this server installation ships the TimescaleDB extension."""
    version = pg_bin.parent.name
    share_candidates = [
        pg_bin.parents[3] / "share" / "postgresql" / version / "extension",  # Debian layout
        pg_bin.parent / "share" / "extension",  # source-build layout
    ]
    return any((path / "timescaledb.control").is_file() for path in share_candidates)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    """One PostgreSQL cluster: its data directory, port and server binaries."""

    datadir: Path
    port: int
    pg_bin: Path
    timescaledb: bool = False

    @property
    def logfile(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}.log"

    def dsn(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"

    def init(self) -> None:
        """Create the data directory (idempotent: an existing cluster is left alone)."""
        if (self.datadir / "PG_VERSION").is_file():
            return
        self.datadir.mkdir(parents=True, exist_ok=True)
        _own(self.datadir.parent)
        _own(self.datadir)
        self._run(
            "initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-instructions",
        )
        settings = SERVER_SETTINGS | (TIMESCALEDB_SETTINGS if self.timescaledb else {})
        lines = [f"{key} = {value}" for key, value in settings.items()]
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write("\n# kstore embedded cluster\n" + "\n".join(lines) + "\n")

    def start(self) -> None:
        """Start the server if it is not running (idempotent)."""
        if self.running():
            return
        _own(self.logfile, touch=True)
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60",
            "-o", f"-p {self.port}", "start",
        )

    def stop(self) -> None:
        if self.running():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def kill(self) -> None:
        """Crash the server (immediate shutdown): for failure tests."""
        if self.running():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        if not (self.datadir / "PG_VERSION").is_file():
            return False
        result = self._run("pg_ctl", "-D", str(self.datadir), "status", check=False)
        return result.returncode == 0

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = _as_postgres([str(self.pg_bin / tool), *args])
        result = subprocess.run(command, capture_output=True, text=True)
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            last = detail[-1] if detail else f"exit {result.returncode}"
            raise ClusterError(f"{tool} failed for {self.datadir}: {last} (log: {self.logfile})")
        return result


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _own(path: Path, touch: bool = False) -> None:
    """As root, hand a path to the postgres user (the server refuses to run as root)."""
    if touch:
        path.touch(exist_ok=True)
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam("postgres")
    os.chown(path, entry.pw_uid, entry.pw_gid)
    if not _postgres_can_enter(path.parent):
        raise ClusterError(
            f"the postgres user cannot reach {path}: put KSTORE_HOME on a path it can traverse"
        )


def _postgres_can_enter(directory: Path) -> bool:
    result = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(directory)])
    return result.returncode == 0
