"""The README's examples are true on the demo's own data: after one `kstore up --duration …`
on a fresh home, every `kstore query` example of the README returns rows, `make docs`' command
writes the dbt docs with every source and model described, and psql as each runtime role that
reads the tables finds `\\d trades` by bare name."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from conftest import PG_BIN, REPO_ROOT, run_kstore

README = (REPO_ROOT / "README.md").read_text()
QUERY = re.compile(r'^kstore query "(?!SQL")(.*?)"((?: --format \w+)?)$', re.M | re.S)


def examples() -> list[tuple[str, list[str]]]:
    """Every `kstore query "…"` of the README's shell blocks (not the usage line)."""
    blocks = "\n".join(re.findall(r"```sh\n(.*?)```", README, re.S))
    return [(sql, shlex.split(options)) for sql, options in QUERY.findall(blocks)]


@pytest.fixture(scope="module")
def demo():
    """A fresh home with one short demo run on the plain path (what `make up` runs)."""
    home = Path(tempfile.mkdtemp(prefix="kstore-readme-"))
    home.chmod(0o755)  # as root, the postgres user must be able to reach the clusters
    env = {"KSTORE_HOME": str(home), "KSTORE_PG_BIN": str(PG_BIN), "KSTORE_TIMESCALEDB": "off"}
    up = run_kstore("up", "--duration", "10", "--rate", "200", env=env, timeout=400)
    assert up.returncode == 0, up.stdout + up.stderr
    yield env, home
    run_kstore("db", "down", env=env)
    shutil.rmtree(home, ignore_errors=True)


def test_the_readme_has_query_examples():
    found = examples()
    assert len(found) >= 4 and all(sql.lstrip().startswith(("select", "with")) for sql, _ in found)
    assert "The lake is the next issue" not in README and "../shared/" not in README


@pytest.mark.parametrize("sql, options", examples(), ids=lambda value: str(value)[:40])
def test_readme_query_example_returns_rows(demo, sql, options):
    env, _ = demo
    done = run_kstore("query", sql, *options, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    if options == ["--format", "csv"]:
        assert len(done.stdout.strip().splitlines()) > 1, done.stdout
    else:
        rows = re.search(r"\((\d+) rows?\)", done.stdout)
        assert rows and int(rows.group(1)) > 0, done.stdout


def test_make_docs_describes_every_source_and_model(demo):
    env, home = demo
    recipe = subprocess.run(["make", "-n", "docs"], cwd=REPO_ROOT, capture_output=True,
                            text=True).stdout
    assert "transform --docs" in recipe and "KSTORE_DBT" not in recipe
    done = run_kstore("transform", "--docs", env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    target = home / "dbt" / "target"
    assert (target / "index.html").is_file() and done.stdout.count("\n") == 1
    manifest = json.loads((target / "manifest.json").read_text())
    nodes = [*manifest["sources"].values(),
             *(n for n in manifest["nodes"].values() if n["resource_type"] == "model")]
    assert len(nodes) > 20
    assert [n["unique_id"] for n in nodes if not n["description"].strip()] == []
    catalog = json.loads((target / "catalog.json").read_text())["sources"]
    uncommented = [f"{uid}.{name}" for uid, table in catalog.items()
                   for name, column in table["columns"].items() if not column["comment"]]
    assert catalog and uncommented == [], "source columns carry production's comments"


def test_psql_finds_trades_by_bare_name_as_each_runtime_role(demo):
    _, home = demo
    ports = json.loads((home / "topology.json").read_text())["clusters"]
    for cluster, dbname in (("production", "production"), ("g1", "ts")):
        dsn = f"host=127.0.0.1 port={ports[cluster]['port']} dbname={dbname} user=postgres"
        with psycopg.connect(dsn) as conn:
            roles = [role for (role,) in conn.execute(
                "select r.rolname from pg_db_role_setting as s"
                " join pg_roles as r on r.oid = s.setrole"
                " join pg_database as d on d.oid = s.setdatabase"
                " where d.datname = current_database() and r.rolname like 'kstore\\_%'"
                " and exists (select from unnest(s.setconfig) as c"
                "             where c ~ '^search_path=.*\\mkstore\\M')")]
        assert len(roles) >= 2, (cluster, roles)
        for role in roles:
            described = subprocess.run(
                [str(PG_BIN / "psql"), "-X", "-d", dsn.replace("user=postgres", f"user={role}"),
                 "-c", r"\d trades"], capture_output=True, text=True)
            assert described.returncode == 0, described.stderr
            assert '"kstore.trades"' in described.stdout, (role, described.stdout)
