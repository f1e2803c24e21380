"""kstore.migrate: versioned files once, definitions re-applied, drift refused."""

from __future__ import annotations

import os
import shutil
import subprocess

import psycopg
import pytest

from conftest import REPO_ROOT, run_kstore
from kstore import migrate


def schema_dump(server, db) -> str:
    result = subprocess.run(
        [str(server.pg_bin / "pg_dump"), "--schema-only", "--no-owner", "-d", db.dsn],
        capture_output=True, text=True, check=True,
    )
    # pg_dump >= 15.14 brackets the dump with a random \restrict key: not part of the schema.
    return "\n".join(line for line in result.stdout.splitlines()
                     if not line.startswith(("\\restrict", "\\unrestrict")))


def applied(db) -> list[tuple]:
    with psycopg.connect(db.dsn) as conn:
        return conn.execute(
            "select version, name, sha256, applied_at from ops.schema_migrations order by version"
        ).fetchall()


def repo_copy(tmp_path):
    """A private copy of the SQL tree, so a test can edit files (symlinks kept)."""
    for folder in ("migrations", "sql", "policies"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder, symlinks=True)
    return tmp_path


@pytest.mark.parametrize("kind", ["gatherer_ts", "gatherer_rel", "production"])
def test_migrate_twice_is_a_no_op(server, kind):
    db = server.database(kind)
    before, history = schema_dump(server, db), applied(db)

    second = migrate.apply(db, server.settings())

    assert second.pending == []
    assert schema_dump(server, db) == before
    assert applied(db) == history
    files = migrate.discover(REPO_ROOT, kind)
    assert [row[:3] for row in history] == [(m.version, m.name, m.sha256) for m in files]


def test_edited_applied_migration_is_refused_and_nothing_applies(server, tmp_path):
    root = repo_copy(tmp_path)
    settings = server.settings(repo_root=root)
    db = server.database("gatherer_rel", settings=settings)
    edited = root / "migrations" / "gatherer_rel" / "V0003__series.sql"
    edited.write_text(edited.read_text() + "\n-- a harmless-looking edit\n")
    (root / "migrations" / "gatherer_rel" / "V0099__later.sql").write_text(
        "create table kstore.later (id integer);\n"
    )
    history = applied(db)

    with pytest.raises(migrate.MigrationError, match="V0003__series.sql was edited"):
        migrate.apply(db, settings)

    assert applied(db) == history
    with psycopg.connect(db.dsn) as conn:
        assert conn.execute("select to_regclass('kstore.later')").fetchone()[0] is None


def test_cli_reports_drift_in_one_line_and_fails(server, tmp_path):
    root = repo_copy(tmp_path)
    db = server.database("gatherer_rel", settings=server.settings(repo_root=root))
    (root / "migrations" / "gatherer_rel" / "V0004__events.sql").write_text("-- replaced\n")

    result = run_kstore("migrate", "--target", "gatherer_rel", "--dsn", db.dsn,
                        env={"KSTORE_REPO_ROOT": str(root), "KSTORE_TIMESCALEDB": "off"})

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("kstore: error: ")
    assert "V0004__events.sql was edited" in result.stderr


def test_a_failing_migration_stops_there_and_rolls_back(server, tmp_path):
    root = repo_copy(tmp_path)
    settings = server.settings(repo_root=root)
    db = server.database("gatherer_rel", settings=settings)
    folder = root / "migrations" / "gatherer_rel"
    (folder / "V0097__good.sql").write_text("create table kstore.good (id integer);\n")
    (folder / "V0098__bad.sql").write_text(
        "create table kstore.half (id integer);\nselect 1 / 0;\n"
    )
    (folder / "V0099__after.sql").write_text("create table kstore.after (id integer);\n")

    with pytest.raises(migrate.MigrationError, match="division by zero"):
        migrate.apply(db, settings)

    versions = [row[0] for row in applied(db)]
    assert 97 in versions and 98 not in versions and 99 not in versions
    with psycopg.connect(db.dsn) as conn:
        exists = conn.execute(
            "select to_regclass('kstore.good'), to_regclass('kstore.half'),"
            " to_regclass('kstore.after')"
        ).fetchone()
    assert exists[0] is not None and exists[1] is None and exists[2] is None


def test_printed_plan_applies_with_plain_psql(server, tmp_path):
    """The operator path: review `kstore migrate --print`, apply it with psql alone, on a host
    without this repository (the files' text is in the script, not `\\i` of their paths)."""
    db = server.database("production", migrated=False)
    plan = migrate.plan(db, server.settings())
    script = plan.script(inline=True)
    first = migrate.discover(REPO_ROOT, "production")[0].path.read_text()
    assert "\\i " not in script and first.strip() in script
    result = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db.dsn, "-f", "-"],
        input=script, capture_output=True, text=True, cwd=tmp_path,
        env=os.environ | {"PGOPTIONS": f"-c kstore.storage={plan.storage}"},
    )
    assert result.returncode == 0, result.stderr

    assert len(applied(db)) == len(migrate.discover(REPO_ROOT, "production"))
    assert migrate.apply(db, server.settings()).pending == []
    with psycopg.connect(db.dsn) as conn:
        assert conn.execute("select ops.storage_path()").fetchone()[0] == server.storage


def test_badly_named_migration_is_refused(tmp_path):
    root = repo_copy(tmp_path)
    (root / "migrations" / "production" / "V12_oops.sql").write_text("select 1;\n")
    with pytest.raises(migrate.MigrationError, match="V12_oops.sql"):
        migrate.discover(root, "production")
