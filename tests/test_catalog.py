"""The table catalog (decision 0016) is what the Python components read: a throw-away eighth
table, added to a copy of the repository's migrations and sql/ as one migration per database
kind and one catalog row (and no Python), is attached and merged by the deduplicator, chosen by
backfill, routed to a writer pool and reported by the audit. A table without its catalog row
(or a row without its table) fails the catalog's pgTAP check. The table's dbt model is the
third part of adding a dataset; it is not exercised here."""

from __future__ import annotations

import asyncio
import filecmp
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from conftest import REPO_ROOT
from kstore import audit, backfill, catalog, dedup
from kstore.gatherer.writer import routing
from kstore.testing import DEDUP_ROLES, role_dsns

TABLE = "probe_ticks"
WRITER = "kstore_gatherer_writer"
GATHERERS = ("g1", "g2")
BASE = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
COLUMNS = """
    market_ticker text not null,
    ts timestamptz not null,
    value numeric(10, 4) not null,
    received_at timestamptz not null default clock_timestamp(),
    gatherer_id text not null,
    xact_id xid8 not null default pg_current_xact_id(),"""
# One migration per database kind that holds the table, as a dataset's author writes them.
MIGRATIONS = {
    "gatherer_ts": f"""-- A throw-away time series: one value per market and exchange time.
create table kstore.{TABLE} ({COLUMNS}
    primary key (market_ticker, ts)
);
select ops.make_timeseries('kstore.{TABLE}', 'ts');
create index {TABLE}_xact_id_idx on kstore.{TABLE} (xact_id);
grant select, insert on kstore.{TABLE} to kstore_gatherer_writer;
grant select on kstore.{TABLE} to kstore_gatherer_reader;
""",
    "production": f"""-- A throw-away time series, merged from the gatherers.
create table kstore.{TABLE} ({COLUMNS}
    merged_at timestamptz not null default now(),
    primary key (market_ticker, ts)
);
select ops.make_timeseries('kstore.{TABLE}', 'ts');
create index {TABLE}_xact_id_idx on kstore.{TABLE} (xact_id);
grant select, insert on kstore.{TABLE} to kstore_dedup;
grant select on kstore.{TABLE} to kstore_exporter, kstore_analyst;
""",
}
ROW = f"""(
    '{TABLE}', '{{gatherer_ts,production}}', 'timeseries', 'ts', 'pull', 'probe',
    'hour', 'raw/{TABLE}', true, 'a throw-away eighth table'
)"""
CATALOG_CHECK = REPO_ROOT / "tests" / "pgtap" / "common" / "test_table_catalog.sql"


def repo_copy(root: Path) -> Path:
    """The repository's migrations, definitions and policies, copied (shared files resolved)."""
    for folder in ("migrations", "sql", "policies"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    return root


def add_migration(root: Path, kind: str, name: str, text: str) -> Path:
    """migrations/<kind>/V<next>__<name>.sql."""
    folder = root / "migrations" / kind
    version = max(int(path.name[1:5]) for path in folder.glob("V*.sql")) + 1
    path = folder / f"V{version:04d}__{name}.sql"
    path.write_text(text)
    return path


def add_catalog_row(root: Path, row: str) -> Path:
    """One more row in the values list of sql/common/ops_tables.sql."""
    path = root / "sql" / "common" / "ops_tables.sql"
    text = path.read_text()
    values = text.index("\nvalues\n")
    end = text.index("\n);\n", values) + len("\n)")
    path.write_text(text[:end] + ",\n" + row + text[end:])
    return path


def changed_files(root: Path) -> list[str]:
    """The files of `root` that differ from (or are not in) the repository."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        original = REPO_ROOT / relative
        if not original.is_file() or not filecmp.cmp(path, original, shallow=False):
            found.append(str(relative))
    return found


def topology(server, root: Path) -> dict:
    """g1 and g2 (ts and rel) and production, migrated from `root`, the gatherers attached."""
    settings = server.settings(repo_root=root)
    dbs = {f"{gid}_{short}": replace(server.database(f"gatherer_{short}", settings=settings),
                                     name=f"{gid}_{short}", cluster=gid)
           for gid in GATHERERS for short in ("ts", "rel")}
    dbs["production"] = replace(server.database("production", settings=settings),
                                name="production", cluster="production")
    dedup.attach(server.settings(gatherers=list(GATHERERS), dsn=role_dsns(dbs, {})),
                 dbs["production"])
    return dbs


def write(db, keys) -> None:
    """Rows `keys` of the new table into one gatherer, as its writer role."""
    with psycopg.connect(db.dsn_as(WRITER), autocommit=True) as conn:
        conn.execute(
            f"insert into kstore.{TABLE} (market_ticker, ts, value, gatherer_id)"
            " select 'KXPROBE', %s + i * interval '1 minute', i / 100.0, %s"
            " from unnest(%s::int []) as i", [BASE, db.cluster, list(keys)])


def minutes(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"select ts from kstore.{TABLE} order by ts").fetchall()
    return [int((ts - BASE).total_seconds() // 60) for ts, in rows]


def test_an_eighth_table_needs_only_a_migration_and_a_catalog_row(server, tmp_path):
    root = repo_copy(tmp_path / "repo")
    touched = [add_migration(root, kind, TABLE, text) for kind, text in MIGRATIONS.items()]
    touched.append(add_catalog_row(root, ROW))
    assert changed_files(root) == sorted(str(path.relative_to(root)) for path in touched), \
        "one migration per kind and the catalog row: no other file, and no Python at all"

    dbs = topology(server, root)
    g1, g2, production = dbs["g1_ts"], dbs["g2_ts"], dbs["production"]
    with psycopg.connect(production.dsn) as conn:
        table = {t.name: t for t in catalog.load(conn)}[TABLE]
        assert (table.here, table.key_columns, table.pulled) == (True, ("market_ticker", "ts"),
                                                                  True)
        assert conn.execute("select to_regclass(%s) is not null",
                            [f"gatherer_g1.{TABLE}"]).fetchone()[0], "attached (foreign table)"

    write(g1, range(0, 10))
    write(g2, range(5, 15))
    settings = server.settings(gatherers=list(GATHERERS), dsn=role_dsns(dbs, DEDUP_ROLES))
    merged = asyncio.run(dedup.Dedup(settings, 500, interval=0.1).run(once=True))
    assert sum(state["pulled"] for state in merged.values()) == 15
    assert all(state["last_error"] is None for state in merged.values())
    assert minutes(production.dsn) == list(range(15)), "merged, each key once"
    with psycopg.connect(g1.dsn) as conn:
        assert conn.execute("select acked_xid is not null from ops.dedup_ack"
                            " where table_name = %s", [TABLE]).fetchone() == (True,)

    target = server.settings(gatherers=list(GATHERERS),
                             dsn={"g1_ts": g1.dsn_as(WRITER), "g2_ts": g2.dsn})
    plan = backfill.plan(target, "g2", "g1", "all", BASE, BASE + timedelta(hours=1))
    assert TABLE in catalog.names(plan.tables)
    result = backfill.run(plan, progress=False)
    assert (result.tables[TABLE].read, result.tables[TABLE].inserted) == (10, 5)
    assert minutes(g1.dsn) == list(range(15)), "g1 refilled from g2, each key once"

    assert routing(g1.dsn_as(WRITER))["probe"] == (TABLE,)
    owner = server.settings(gatherers=list(GATHERERS), dsn=role_dsns(dbs, {}))
    report = audit.audit(owner, {}, "production")
    assert report[TABLE] == dict.fromkeys(audit.COUNTS) | {"stored": 15}
    assert audit.clean(report) and "no audit rule" in audit.render(report)
    assert catalog_check(g1) == [] and catalog_check(production) == []


def catalog_check(db) -> list[str]:
    """The failing assertions of the catalog's pgTAP test (tests/pgtap/common) on `db`."""
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute("create extension if not exists pgtap")
        conn.execute((REPO_ROOT / "tests" / "pgtap" / "helpers.sql").read_text())
    output = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-d", db.dsn, "-f",
                             str(CATALOG_CHECK)], capture_output=True, text=True, check=True)
    lines = output.stdout.splitlines()
    planned = next(int(line[3:]) for line in lines if re.fullmatch(r"1\.\.\d+", line))
    assert len([line for line in lines if re.match(r"(not )?ok \d+", line)]) == planned, lines
    return [line for line in lines if re.match(r"not ok \d+", line)]


def test_a_table_without_its_catalog_row_is_caught(server, tmp_path):
    root = repo_copy(tmp_path / "repo")
    add_migration(root, "gatherer_ts", "uncatalogued", (
        "create table kstore.uncatalogued (id bigint primary key);\n"))
    add_catalog_row(root, """(
    'ghost', '{gatherer_ts}', 'log', null, null, null, null, null, false, 'no table'
)""")
    db = server.database("gatherer_ts", settings=server.settings(repo_root=root))

    failed = catalog_check(db)

    assert any("every table of the kstore schema here has a catalog row" in line
               for line in failed), failed
    assert any("every catalog row homed in this kind has its table" in line
               for line in failed), failed
