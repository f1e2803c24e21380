"""`kstore db reset`: the embedded topology emptied and migrated again, the local lake gone;
refused without --yes and for external databases."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from conftest import run_kstore


def dsns(home: Path) -> dict[str, str]:
    ports = json.loads((home / "topology.json").read_text())["clusters"]
    found = {"production": f"host=127.0.0.1 port={ports['production']['port']} "
                           "dbname=production user=postgres"}
    for gid in ("g1", "g2", "g3"):
        for dbname in ("ts", "rel"):
            found[f"{gid}_{dbname}"] = (f"host=127.0.0.1 port={ports[gid]['port']} "
                                        f"dbname={dbname} user=postgres")
    return found


def state(dsn: str) -> tuple[int, int, list]:
    """(rows in every kstore table, applied migrations, dedup cursors (production))."""
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "select format('%I.%I', n.nspname, c.relname) from pg_class as c"
            " join pg_namespace as n on c.relnamespace = n.oid where n.nspname = 'kstore'"
            " and c.relkind in ('r', 'p') and not c.relispartition").fetchall()
        rows = sum(conn.execute(f"select count(*) from {name}").fetchone()[0]
                   for (name,) in tables)
        applied = conn.execute("select count(*) from ops.schema_migrations").fetchone()[0]
        cursors = conn.execute(
            "select gatherer_id, count(*) from ops.dedup_cursors group by 1 order by 1"
        ).fetchall() if "production" in dsn else []
    return rows, applied, cursors


def test_reset_leaves_an_empty_migrated_topology(embedded):
    env, home = embedded
    for step in (["db", "up"], ["migrate"]):
        done = run_kstore(*step, env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    databases = dsns(home)
    before = {name: state(dsn) for name, dsn in databases.items()}
    for name in ("production", "g1_ts"):
        with psycopg.connect(databases[name], autocommit=True) as conn:
            conn.execute("insert into kstore.trades (trade_id, ts, market_ticker, yes_price,"
                         " no_price, count, received_at, gatherer_id) values (gen_random_uuid(),"
                         " now(), 'M', 0.5, 0.5, 1, now(), 'g1')")
    (home / "lake" / "raw").mkdir(parents=True)
    (home / "lake" / "raw" / "x.parquet").write_bytes(b"not really")
    (home / "journal" / "g1").mkdir(parents=True)  # frames captured before the reset
    (home / "journal" / "g1" / "2026-12-06T12").write_bytes(b"frames")

    refused = run_kstore("db", "reset", env=env)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "--yes" in refused.stderr and state(databases["production"])[0] == 1 == state(databases["g1_ts"])[0]

    reset = run_kstore("db", "reset", "--yes", env=env, timeout=300)

    assert reset.returncode == 0, reset.stdout + reset.stderr
    after = {name: state(dsn) for name, dsn in databases.items()}
    assert all(rows == 0 for rows, _, _ in after.values()), after
    assert after == {name: (0, applied, cursors)
                     for name, (_, applied, cursors) in before.items()}
    assert before["production"][2], "production is attached to every gatherer again"
    assert not (home / "lake").exists() and not (home / "journal").exists()


def test_reset_refuses_external_databases(tmp_path):
    env = {"KSTORE_HOME": str(tmp_path), "KSTORE_DSN__PRODUCTION": "host=127.0.0.1 port=1 dbname=p"}
    refused = run_kstore("db", "reset", "--yes", env=env)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "external" in refused.stderr and "Traceback" not in refused.stderr
