"""`kstore db up|down|status` and `kstore migrate` on the embedded topology, as a user runs them."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from conftest import PG_BIN, run_kstore
from kstore import roles, topology
from kstore.settings import SettingsError, load
from kstore.testing import storage_paths

NAMES = ["g1_ts", "g1_rel", "g2_ts", "g2_rel", "g3_ts", "g3_rel", "production"]


def status(env: dict) -> tuple[int, list[dict]]:
    result = run_kstore("db", "status", "--json", env=env)
    return result.returncode, json.loads(result.stdout)


@pytest.fixture
def embedded():
    home = Path(tempfile.mkdtemp(prefix="kstore-home-"))
    home.chmod(0o755)  # as root, the postgres user must be able to reach the clusters
    env = {"KSTORE_HOME": str(home), "KSTORE_PG_BIN": str(PG_BIN), "KSTORE_TIMESCALEDB": "off"}
    yield env
    run_kstore("db", "down", env=env)
    shutil.rmtree(home, ignore_errors=True)


def test_up_migrate_twice_and_down(embedded):
    first = run_kstore("db", "up", env=embedded)
    assert first.returncode == 0, first.stderr
    code, rows = status(embedded)
    assert code == 0
    assert [row["name"] for row in rows] == NAMES
    assert all(row["up"] and "port=" in row["dsn"] for row in rows)
    ports = {row["dsn"] for row in rows}

    assert run_kstore("db", "up", env=embedded).returncode == 0
    assert {row["dsn"] for row in status(embedded)[1]} == ports, "up twice is a no-op"

    migrated = run_kstore("migrate", "--target", "all", env=embedded)
    assert migrated.returncode == 0, migrated.stderr
    again = run_kstore("migrate", "--target", "all", env=embedded)
    assert again.stdout.count("no new migrations") == len(NAMES)
    rows = status(embedded)[1]
    assert {row["storage"] for row in rows} == {"plain"}, "KSTORE_TIMESCALEDB=off forces plain"
    assert all(row["migrations"] for row in rows)

    assert run_kstore("db", "down", env=embedded).returncode == 0
    code, rows = status(embedded)
    assert code == 3 and not any(row["up"] for row in rows)


def test_timescaledb_on_without_the_extension_is_a_clear_error(embedded):
    if storage_paths(PG_BIN)["timescaledb"] is None:
        pytest.skip(f"the server in {PG_BIN} has TimescaleDB, so 'on' is valid here")
    result = run_kstore("db", "up", env=embedded | {"KSTORE_TIMESCALEDB": "on"})
    assert result.returncode == 1
    assert "has no TimescaleDB extension" in result.stderr


def test_status_before_up_says_what_to_do(embedded):
    code, rows = status(embedded)
    assert code == 3
    assert all("kstore db up" in row["error"] for row in rows)


def test_auto_uses_timescaledb_where_the_server_has_it(embedded):
    reason = storage_paths(PG_BIN)["timescaledb"]
    if reason:
        pytest.skip(reason)
    env = embedded | {"KSTORE_TIMESCALEDB": "auto"}
    assert run_kstore("db", "up", env=env).returncode == 0
    assert run_kstore("migrate", env=env).returncode == 0
    storage = {row["name"]: row["storage"] for row in status(env)[1]}
    assert storage["production"] == storage["g1_ts"] == "timescaledb"
    assert storage["g1_rel"] == "plain"


def write_topology(home: Path, port: int) -> None:
    (home / "topology.json").write_text(json.dumps({"clusters": {"g1": {"port": port}}}))


def test_a_component_connects_as_its_role_on_the_embedded_topology_only(tmp_path):
    write_topology(tmp_path, 6001)
    settings = load(None, home=tmp_path, gatherers=["g1"],
                    dsn={"production": "host=db.example dbname=prod user=ops"})
    writer = topology.dsn_for(settings, "g1_ts", roles.GATHERER_WRITER)
    assert "port=6001" in writer and "user=kstore_gatherer_writer" in writer
    assert "user=postgres" in topology.dsn_for(settings, "g1_rel"), "no role: as the owner"
    assert topology.dsn_for(settings, "production", roles.EXPORTER) == \
        "host=db.example dbname=prod user=ops", "an external DSN is used as given"


def test_a_database_neither_created_nor_configured_says_what_to_do(tmp_path):
    settings = load(None, home=tmp_path, gatherers=["g1"])
    with pytest.raises(SettingsError) as raised:
        topology.dsn_for(settings, "g1_ts", roles.GATHERER_WRITER)
    assert str(raised.value) == \
        "g1_ts: no database (run `kstore db up` or set KSTORE_DSN__G1_TS)"


def test_topology_json_is_read_once_until_db_up_or_down(tmp_path):
    write_topology(tmp_path, 6001)
    settings = load(None, home=tmp_path, gatherers=["g1"], pg_bin=PG_BIN, timescaledb="off")
    assert "port=6001" in topology.dsn_for(settings, "g1_ts")
    write_topology(tmp_path, 6002)
    assert "port=6001" in topology.dsn_for(settings, "g1_ts"), "one read per process"
    topology.down(settings)  # nothing runs there; down re-reads the file
    assert "port=6002" in topology.dsn_for(settings, "g1_ts")


def test_the_roles_module_names_exactly_the_roles_the_migrations_create(plain_server):
    plain_server.database("gatherer_ts")
    plain_server.database("production")
    with psycopg.connect(plain_server.cluster.dsn()) as conn:
        created = {name for (name,) in conn.execute(
            "select rolname from pg_roles where rolname like 'kstore\\_%' and rolcanlogin")}
    assert created == {*roles.GATHERER, *roles.PRODUCTION}
