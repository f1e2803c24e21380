"""The databases kstore talks to, and the embedded default that `kstore db up` runs.

Each gatherer has a `ts` (time series) and a `rel` (reference data) database; production has
one. A DSN from the environment (KSTORE_DSN__G1_TS, KSTORE_DSN__PRODUCTION, …) points a
database elsewhere (RDS, a remote gatherer); otherwise it lives in the embedded topology under
`<home>/pg/<cluster>`, with its port recorded in `<home>/topology.json`, which is read once per
process (per home) and re-read by `up` and `down`.

Components connect through `dsn_for`: an embedded database as the component's role (kstore.roles),
an external DSN as given.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kstore.pgcluster import Cluster, find_pg_bin, free_port, has_timescaledb
from kstore.settings import Settings, SettingsError

PRODUCTION = "production"
GATHERER_DATABASES = {"ts": "gatherer_ts", "rel": "gatherer_rel"}
TARGET_KINDS = {
    "gatherer": ("gatherer_ts", "gatherer_rel"),
    "production": ("production",),
    "all": ("gatherer_ts", "gatherer_rel", "production"),
}


@dataclass(frozen=True)
class Database:
    """One database: `name` is how settings and commands refer to it (g1_ts, production)."""

    name: str
    cluster: str
    dbname: str
    kind: str
    dsn: str
    embedded: bool

    def dsn_as(self, role: str) -> str:
        """The same database, connecting as another role (no password: see the decisions)."""
        return make_conninfo(self.dsn, user=role)

    def dsn_for(self, role: str | None = None) -> str:
        """How a component connects: an embedded database as `role` (None: as its owner), an
        external one as its DSN says. SettingsError (one line) when there is no database yet."""
        if not self.dsn:
            raise SettingsError(missing(self.name))
        return self.dsn_as(role) if self.embedded and role else self.dsn


def missing(name: str) -> str:
    """The one-line reason a database cannot be reached: not created, not configured."""
    return f"{name}: no database (run `kstore db up` or set KSTORE_DSN__{name.upper()})"


def dsn_for(settings: Settings, name: str, role: str | None = None) -> str:
    """The DSN a component uses for database `name` (g1_ts, production) as `role`."""
    return database(settings, name).dsn_for(role)


def databases(settings: Settings, kinds: tuple[str, ...] = TARGET_KINDS["all"]) -> list[Database]:
    ports = _read_state(settings).get("clusters", {})
    layout = [(gid, dbname, kind) for gid in settings.gatherers
              for dbname, kind in GATHERER_DATABASES.items()]
    layout.append((PRODUCTION, PRODUCTION, "production"))
    found = []
    for cluster, dbname, kind in layout:
        if kind not in kinds:
            continue
        name = PRODUCTION if cluster == PRODUCTION else f"{cluster}_{dbname}"
        external = settings.dsn.get(name)
        if external:
            found.append(Database(name, cluster, dbname, kind, external, embedded=False))
            continue
        port = ports.get(cluster, {}).get("port")
        dsn = f"host=127.0.0.1 port={port} dbname={dbname} user=postgres" if port else ""
        found.append(Database(name, cluster, dbname, kind, dsn, embedded=True))
    return found


def database(settings: Settings, name: str) -> Database:
    for candidate in databases(settings):
        if candidate.name == name:
            return candidate
    known = ", ".join(db.name for db in databases(settings))
    raise SettingsError(f"unknown database {name!r} (known: {known})")


def clusters(settings: Settings) -> dict[str, Cluster]:
    """The embedded clusters (only those that some embedded database needs)."""
    state = copy.deepcopy(_read_state(settings))
    pg_bin = find_pg_bin(settings.pg_bin)
    timescaledb = _wants_timescaledb(settings, pg_bin)
    needed = sorted({db.cluster for db in databases(settings) if db.embedded})
    found = {}
    for name in needed:
        entry = state.setdefault("clusters", {}).setdefault(name, {})
        entry.setdefault("port", free_port())
        entry.setdefault("timescaledb", timescaledb)
        datadir = settings.home.resolve() / "pg" / name
        found[name] = Cluster(datadir, entry["port"], pg_bin, entry["timescaledb"])
    _write_state(settings, state)
    return found


def _wants_timescaledb(settings: Settings, pg_bin: Path) -> bool:
    available = has_timescaledb(pg_bin)
    if settings.timescaledb == "on" and not available:
        raise SettingsError(
            f"KSTORE_TIMESCALEDB=on but the server in {pg_bin} has no TimescaleDB extension"
        )
    return available and settings.timescaledb != "off"


def up(settings: Settings) -> list[Database]:
    """Init and start every embedded cluster and create its databases (idempotent)."""
    _forget(settings)
    for cluster in clusters(settings).values():
        cluster.init()
        cluster.start()
    for db in databases(settings):
        if db.embedded:
            _create_database(db)
    return databases(settings)


def recreate(settings: Settings) -> list[Database]:
    """Drop every embedded database (closing its sessions) and create it empty again, not
    migrated; the clusters, their roles and storage paths stay. Refuses external databases."""
    external = [db.name for db in databases(settings) if not db.embedded]
    if external:
        raise SettingsError(f"{', '.join(external)} point at external databases "
                            "(KSTORE_DSN__*): only the embedded topology is reset")
    up(settings)
    for db in databases(settings):
        admin = make_conninfo(db.dsn, dbname="postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("drop database if exists {} with (force)").format(
                psycopg.sql.Identifier(db.dbname)))
        _create_database(db)
    return databases(settings)


def down(settings: Settings) -> None:
    _forget(settings)
    for cluster in clusters(settings).values():
        cluster.stop()


def status(settings: Settings) -> list[dict]:
    rows = []
    for db in databases(settings):
        row = asdict(db) | {"up": False, "storage": None, "migrations": None, "error": None}
        row["dsn"] = _redact(db.dsn)
        try:
            row |= _probe(db.dsn)
        except (psycopg.Error, ValueError) as exc:
            row["error"] = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        rows.append(row)
    return rows


def _probe(dsn: str) -> dict:
    if not dsn:
        raise ValueError("not created yet: run `kstore db up`")
    with psycopg.connect(dsn, connect_timeout=3, autocommit=True) as conn:
        def scalar(query: str):
            return conn.execute(query).fetchone()[0]

        migrations = storage = None
        if scalar("select to_regclass('ops.schema_migrations') is not null"):
            migrations = scalar("select count(*) from ops.schema_migrations")
            storage = "plain"
        if scalar("select to_regclass('ops.storage') is not null"):
            storage = scalar("select path from ops.storage")
        tsdb = scalar(
            "select exists (select from pg_available_extensions where name = 'timescaledb')"
            " and current_setting('shared_preload_libraries') like '%timescaledb%'"
        )
    if storage is None:
        storage = "not migrated (timescaledb available)" if tsdb else "not migrated (plain)"
    return {"up": True, "storage": storage, "migrations": migrations}


def _redact(dsn: str) -> str:
    if not dsn:
        return dsn
    params = conninfo_to_dict(dsn)
    if "password" in params:
        params["password"] = "***"
    return make_conninfo(**params)


def _state_file(settings: Settings) -> Path:
    return settings.home / "topology.json"


# topology.json per resolved path, as this process last read or wrote it (see _read_state)
_STATE: dict[Path, dict] = {}


def _read_state(settings: Settings) -> dict:
    """The embedded state of `settings.home`, read from disk once per process: a command looks
    databases up many times and the file only changes under `up`/`down`, which re-read it.
    Callers must not mutate the returned dict."""
    path = _state_file(settings).resolve()
    if path not in _STATE:
        _STATE[path] = json.loads(path.read_text()) if path.is_file() else {}
    return _STATE[path]


def _write_state(settings: Settings, state: dict) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    path = _state_file(settings).resolve()
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    _STATE[path] = copy.deepcopy(state)


def _forget(settings: Settings) -> None:
    _STATE.pop(_state_file(settings).resolve(), None)


def _create_database(db: Database) -> None:
    admin = make_conninfo(db.dsn, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [db.dbname])
        if exists.fetchone() is None:
            conn.execute(psycopg.sql.SQL("create database {}").format(
                psycopg.sql.Identifier(db.dbname)))
