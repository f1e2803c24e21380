"""Apply versioned migrations, then the re-runnable definitions and policies, with psql.

For one database of a kind (gatherer_ts, gatherer_rel, production):
1. every `migrations/<kind>/V####__name.sql` not yet in `ops.schema_migrations` is applied in
   version order, each in its own transaction together with its schema_migrations row;
2. every file of the kind's `sql/` folders, then `policies/<kind>.sql`, is re-applied.
Before anything runs, an applied file whose sha256 changed (or that disappeared) is refused.
The whole plan is one psql script (`psql -X -v ON_ERROR_STOP=1`), which `kstore migrate --print`
shows, so an operator can review it and apply exactly the same thing with plain psql.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from kstore.settings import Settings
from kstore.topology import Database, missing

SQL_FOLDERS = {
    "gatherer_ts": ("common", "timeseries", "gatherer", "gatherer_ts"),
    "gatherer_rel": ("common", "reference", "gatherer", "gatherer_rel"),
    "production": ("common", "timeseries", "reference", "production"),
}
TIMESERIES_KINDS = ("gatherer_ts", "production")
FILE_NAME = re.compile(r"^V(\d{4})__([a-z0-9_]+)\.sql$")
LOCK_KEY = 7_291_031  # one migration at a time per database
HISTORY_DDL = """\
create schema if not exists ops;
create table if not exists ops.schema_migrations (
    version integer primary key,
    name text not null,
    sha256 text not null,
    applied_at timestamptz not null default now()
);"""


class MigrationError(RuntimeError):
    """Migrating a database failed or was refused; the message says which file and why."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class Plan:
    database: Database
    storage: str
    pending: list[Migration]
    definitions: list[Path]

    def script(self, inline: bool = False) -> str:
        """The psql script; `inline`: each file's text in place of its `\\i` (what --print
        shows: reviewable and applicable on any host, without this repository)."""
        include = _inline if inline else (lambda path: f"\\i {_quote(path)}")
        lines = [
            "\\set ON_ERROR_STOP 1",
            "set check_function_bodies = off;  -- definitions may refer to later files",
            f"select pg_advisory_lock({LOCK_KEY});",
            f"select set_config('kstore.kind', '{self.database.kind}', false);",
            HISTORY_DDL,
        ]
        for migration in self.pending:
            lines += [
                f"-- {migration.path.name}",
                "begin;",
                include(migration.path),
                "insert into ops.schema_migrations (version, name, sha256) values "
                f"({migration.version}, '{migration.name}', '{migration.sha256}');",
                "commit;",
            ]
        for path in self.definitions:
            lines += [f"-- {path.name}", "begin;", include(path), "commit;"]
        lines.append(f"select pg_advisory_unlock({LOCK_KEY});")
        return "\n".join(lines) + "\n"


def discover(root: Path, kind: str) -> list[Migration]:
    """The kind's migrations in version order; a badly named or duplicated version is refused."""
    found: dict[int, Migration] = {}
    for path in sorted((root / "migrations" / kind).glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named V0001__lower_snake.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path}: version {version} also in {found[version].path.name}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        found[version] = Migration(version, match.group(2), path, digest)
    return [found[version] for version in sorted(found)]


def definitions(root: Path, kind: str) -> list[Path]:
    files = [path for folder in SQL_FOLDERS[kind]
             for path in sorted((root / "sql" / folder).glob("*.sql"))]
    policy = root / "policies" / f"{kind}.sql"
    return files + ([policy] if policy.is_file() else [])


def plan(db: Database, settings: Settings) -> Plan:
    """What `apply` would run; refuses drift before anything is applied."""
    root = settings.repo_root
    available = discover(root, db.kind)
    with psycopg.connect(db.dsn, autocommit=True, connect_timeout=10) as conn:
        applied = _applied(conn)
        storage = _storage(conn, db, settings)
    by_version = {migration.version: migration for migration in available}
    for version, (name, sha) in applied.items():
        current = by_version.get(version)
        if current is None:
            raise MigrationError(
                f"{db.name}: applied migration V{version:04d}__{name}.sql is missing from "
                f"migrations/{db.kind}/ (migrations are append-only)"
            )
        if current.sha256 != sha:
            raise MigrationError(
                f"{db.name}: {current.path.name} was edited after it was applied "
                f"(sha256 {sha[:12]}… applied, {current.sha256[:12]}… on disk); migrations are "
                "append-only: revert the edit and add a new migration"
            )
    pending = [migration for migration in available if migration.version not in applied]
    return Plan(db, storage, pending, definitions(root, db.kind))


def apply(db: Database, settings: Settings) -> Plan:
    """Apply the plan with psql; raises MigrationError with psql's first error."""
    if not db.dsn:
        raise MigrationError(missing(db.name))
    current = plan(db, settings)
    environment = os.environ | {
        "PGOPTIONS": f"-c kstore.storage={current.storage} -c client_min_messages=warning",
    }
    result = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db.dsn, "-f", "-", "-o", os.devnull],
        input=current.script(), capture_output=True, text=True, env=environment,
    )
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if "ERROR" in line or "FATAL" in line]
        detail = errors[0] if errors else result.stderr.strip() or f"psql exit {result.returncode}"
        raise MigrationError(f"{db.name}: {detail}")
    return current


def _applied(conn: psycopg.Connection) -> dict[int, tuple[str, str]]:
    if conn.execute("select to_regclass('ops.schema_migrations')").fetchone()[0] is None:
        return {}
    rows = conn.execute("select version, name, sha256 from ops.schema_migrations").fetchall()
    return {version: (name, sha) for version, name, sha in rows}


def _storage(conn: psycopg.Connection, db: Database, settings: Settings) -> str:
    """The storage path: what the database already recorded, else what the setting asks for."""
    if db.kind not in TIMESERIES_KINDS:
        return "plain"
    available = conn.execute(
        "select exists (select from pg_available_extensions where name = 'timescaledb')"
        " and current_setting('shared_preload_libraries') like '%timescaledb%'"
    ).fetchone()[0]
    recorded = None
    if conn.execute("select to_regclass('ops.storage')").fetchone()[0] is not None:
        recorded = conn.execute("select path from ops.storage").fetchone()[0]
    wanted = {"on": "timescaledb", "off": "plain"}.get(settings.timescaledb)
    if wanted == "timescaledb" and not available:
        raise MigrationError(f"{db.name}: KSTORE_TIMESCALEDB=on but the server does not preload it")
    if recorded and wanted and recorded != wanted:
        raise MigrationError(
            f"{db.name}: already migrated on the {recorded} path; KSTORE_TIMESCALEDB="
            f"{settings.timescaledb} cannot convert it"
        )
    return recorded or wanted or ("timescaledb" if available else "plain")


def _inline(path: Path) -> str:
    return path.read_text().rstrip("\n")


def _quote(path: Path) -> str:
    return "'" + str(path.resolve()).replace("\\", "\\\\").replace("'", "\\'") + "'"
