"""Three gatherer hosts and production on separate hosts, as deployed (docs/deploy.md): each in
its own network namespace (`ip netns`, a veth pair to one bridge), each with its own PostgreSQL
cluster listening on the host's address, password logins (scram-sha-256) and TLS (a CA made
here; production's postgres_fdw servers verify the gatherers' certificates, verify-full). The
simulator (the exchange) sits on the bridge. Capture and merge run across the hosts; then g1 is
cut off the network for a while (its link down: a partition, not a kill). Production stays
exact, g1's lag in `kstore status --json` grows while it is cut off and recovers after, and
nothing is lost: production ends audit-clean against the simulator's truth, holding every row
g1 captured. Needs root and `ip`; skipped with the reason otherwise.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from conftest import PG_BIN, REPO_ROOT, kstore_env, run_kstore
from kstore import audit, dedup, migrate, roles
from kstore.settings import load
from kstore.topology import Database
from test_dedup import wait_until
from test_restore import (GATHERERS, finish, gatherer_env, simulator, stop, trade_count,
                          trade_ids)

NET = f"10.231.{os.getpid() % 200 + 20}"
HOSTS = {"g1": 11, "g2": 12, "g3": 13, "production": 20}
PASSWORD = {"postgres": "admin-pw", roles.GATHERER_WRITER: "writer-pw",
            roles.GATHERER_READER: "reader-pw", roles.DEDUP_ACK: "ack-pw", roles.DEDUP: "dedup-pw"}
TAG = f"k{os.getpid() % 10000}"  # interface and namespace names (15 characters at most)


def _cannot_run() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    probe = subprocess.run(["ip", "netns", "add", f"{TAG}probe"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`ip netns add` refused: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", f"{TAG}probe"], check=True)
    return None


def sh(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stderr.strip()}"


def netns(host: str) -> str:
    return f"{TAG}{host[:4]}"


def address(host: str) -> str:
    return f"{NET}.{HOSTS[host]}"


def link(host: str) -> str:
    return f"{TAG}n{HOSTS[host]}"


def make_network() -> None:
    bridge = f"{TAG}br"
    sh("ip", "link", "add", bridge, "type", "bridge")
    sh("ip", "addr", "add", f"{NET}.1/24", "dev", bridge)
    sh("ip", "link", "set", bridge, "up")
    for host, number in HOSTS.items():
        ns, outer = netns(host), f"{TAG}h{number}"
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", link(host))
        sh("ip", "link", "set", link(host), "netns", ns)
        sh("ip", "link", "set", outer, "master", bridge, "up")
        sh("ip", "-n", ns, "addr", "add", f"{address(host)}/24", "dev", link(host))
        sh("ip", "-n", ns, "link", "set", link(host), "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def remove_network() -> None:
    for host in HOSTS:
        subprocess.run(["ip", "netns", "del", netns(host)], capture_output=True)
    subprocess.run(["ip", "link", "del", f"{TAG}br"], capture_output=True)


# ------------------------------------------------------------------------- certificates

def make_certificates(root: Path) -> Path:
    """A CA and, per host, a server certificate for its address (IP SAN); returns the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    pem = serialization.Encoding.PEM

    def issue(subject: str, key, issuer_key, issuer_name, ca: bool, ip: str | None = None):
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer_name or x509.Name(
                       [x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ip:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = issue("kstore test CA", ca_key, ca_key, None, ca=True)
    (root / "ca.crt").write_bytes(ca_cert.public_bytes(pem))
    for host in HOSTS:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = issue(address(host), key, ca_key, ca_cert.subject, ca=False, ip=address(host))
        (root / f"{host}.crt").write_bytes(cert.public_bytes(pem))
        (root / f"{host}.key").write_bytes(key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return root / "ca.crt"


# ------------------------------------------------------------------------------ clusters

def as_postgres(host: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", netns(host), "runuser", "-u", "postgres", "--", *command]


def start_cluster(root: Path, host: str) -> None:
    """initdb with a scram password for postgres; listens on the host's address, TLS only from
    the network; started inside the host's namespace."""
    data, pwfile = root / host, root / f"{host}.pw"
    pwfile.write_text(PASSWORD["postgres"] + "\n")
    for path in (pwfile, root / f"{host}.crt", root / f"{host}.key"):
        shutil.chown(path, "postgres")
    os.chmod(root / f"{host}.key", 0o600)
    sh(*as_postgres(host, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
                    f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8",
                    "--locale=C", "--no-instructions"))
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(f"""
listen_addresses = '127.0.0.1,{address(host)}'
port = 5432
unix_socket_directories = ''
ssl = on
ssl_cert_file = '{root / f"{host}.crt"}'
ssl_key_file = '{root / f"{host}.key"}'
password_encryption = 'scram-sha-256'
timezone = 'UTC'
max_connections = 100
fsync = off
""")
    (data / "pg_hba.conf").write_text(
        "host all all 127.0.0.1/32 scram-sha-256\n"
        f"hostssl all all {NET}.0/24 scram-sha-256\n")
    sh(*as_postgres(host, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / f"{host}.log"),
                    "-w", "-t", "60", "start"))


def dsn(host: str, dbname: str, user: str, ca: Path, local: bool = False) -> str:
    """From another host: TLS, the certificate verified against the CA; on the host itself,
    over its loopback, a password only."""
    where = "host=127.0.0.1 sslmode=disable" if local else \
        f"host={address(host)} sslmode=verify-full sslrootcert={ca}"
    return (f"{where} port=5432 dbname={dbname} user={user} password={PASSWORD[user]} "
            "connect_timeout=5 keepalives_idle=5 keepalives_interval=2 keepalives_count=3")


def databases(ca: Path) -> dict[str, Database]:
    """Every database as the operator's machine (the root namespace) reaches it, as owner."""
    dbs = {"production": Database("production", "production", "production", "production",
                                  dsn("production", "production", "postgres", ca), False)}
    for gid in GATHERERS:
        for short in ("ts", "rel"):
            dbs[f"{gid}_{short}"] = Database(
                f"{gid}_{short}", gid, f"gatherer_{short}", f"gatherer_{short}",
                dsn(gid, f"gatherer_{short}", "postgres", ca), False)
    return dbs


def migrate_all(dbs: dict[str, Database], home: Path):
    settings = load(None, home=home, timescaledb="off", pg_bin=PG_BIN,
                    dsn={name: db.dsn for name, db in dbs.items()},
                    reader_password={gid: PASSWORD[roles.GATHERER_READER] for gid in GATHERERS})
    for db in dbs.values():
        admin = db.dsn.replace("dbname=" + db.dbname, "dbname=postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'create database "{db.dbname}"')
        migrate.apply(db, settings)
        with psycopg.connect(db.dsn, autocommit=True) as conn:
            for role, secret in PASSWORD.items():
                if role != "postgres" and conn.execute(
                        "select 1 from pg_roles where rolname = %s", [role]).fetchone():
                    conn.execute(f"alter role {role} password '{secret}'")
    return settings


@pytest.fixture(scope="module")
def hosts():
    reason = _cannot_run()
    if reason:
        print(f"test_multihost: SKIP: {reason}")
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="kstore-multihost-"))
    os.chmod(root, 0o755)
    shutil.chown(root, "postgres")  # the servers write their data and logs here
    make_network()
    try:
        ca = make_certificates(root)
        os.chmod(ca, 0o644)
        for host in HOSTS:
            start_cluster(root, host)
        dbs = databases(ca)
        settings = migrate_all(dbs, root / "home")
        dedup.attach(settings, dbs["production"])
        with psycopg.connect(dbs["production"].dsn, autocommit=True) as conn:
            for gid in GATHERERS:  # what `kstore migrate` does with fdw.sslmode set
                for short in ("ts", "rel"):
                    conn.execute(f"alter server kstore_{gid}_{short} options (add sslmode "
                                 f"'verify-full', add sslrootcert '{ca}')")
        yield root, ca, dbs
    finally:
        for host in HOSTS:
            subprocess.run(as_postgres(host, str(PG_BIN / "pg_ctl"), "-D", str(root / host),
                                       "-m", "immediate", "-w", "stop"), capture_output=True)
        remove_network()
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------------- the run

def on_host(host: str, args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ["ip", "netns", "exec", netns(host), sys.executable, "-m", "kstore.cli", *args],
        env=kstore_env(env) | {"PYTHONPATH": str(REPO_ROOT / "glue")}, cwd=REPO_ROOT,
        stdout=open(log, "a"), stderr=subprocess.STDOUT)


def dedup_env(ca: Path, home: Path) -> dict:
    """The production host's deduplicator: production locally, each gatherer's ts over TLS."""
    env = {"KSTORE_HOME": str(home), "KSTORE_GATHERERS": json.dumps(GATHERERS),
           "KSTORE_DSN__PRODUCTION": dsn("production", "production", roles.DEDUP, ca, True)}
    for gid in GATHERERS:
        env[f"KSTORE_DSN__{gid.upper()}_TS"] = dsn(gid, "gatherer_ts", roles.DEDUP_ACK, ca)
        env[f"KSTORE_DSN__{gid.upper()}_REL"] = dsn(gid, "gatherer_rel", roles.GATHERER_READER, ca)
    return env


def status_lag(dbs: dict[str, Database], home: Path, gid: str) -> tuple[float, dict]:
    """`kstore status --json` from the operator's machine: g's trades lag, and the report."""
    env = {f"KSTORE_DSN__{name.upper()}": db.dsn for name, db in dbs.items()} | {
        "KSTORE_HOME": str(home), "KSTORE_STATUS__EXPORT_STALE_MAX": "0",
        "KSTORE_GATHERERS": json.dumps(GATHERERS)}
    done = run_kstore("status", "--json", env=env, timeout=120)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report = json.loads(done.stdout)
    row = next(r for r in report["dedup"] if r["gatherer"] == gid and r["table"] == "trades")
    return row["lag_s"] or 0.0, report


def partition(dbs: dict[str, Database], home: Path) -> None:
    """g1's link down for a while: its lag grows, status fails, the others merge on."""
    sh("ip", "-n", netns("g1"), "link", "set", link("g1"), "down")
    cut_at = trade_count(dbs["production"].dsn)
    first, _ = status_lag(dbs, home, "g1")
    time.sleep(12)
    second, report = status_lag(dbs, home, "g1")
    assert second >= first + 10, f"g1's lag grows while it is cut off: {first}, {second}"
    assert not report["healthy"], "status reports the unreachable gatherer"
    assert status_lag(dbs, home, "g2")[0] < 10, "the others merge on"
    assert trade_count(dbs["production"].dsn) > cut_at, "production keeps merging g2 and g3"
    sh("ip", "-n", netns("g1"), "link", "set", link("g1"), "up")  # healed


def test_a_partitioned_gatherer_host_lags_then_recovers_and_production_stays_exact(
        hosts, tmp_path):
    root, ca, dbs = hosts
    production = dbs["production"].dsn
    with simulator(tmp_path / "t.jsonl", 100, host=f"{NET}.1") as sim:
        url = f"{NET}.1:{sim.port}"
        gatherers = {gid: on_host(gid, ["gather", "--gatherer", gid], gatherer_env(
            gid, dsn(gid, "gatherer_ts", roles.GATHERER_WRITER, ca, True),
            dsn(gid, "gatherer_rel", roles.GATHERER_WRITER, ca, True), url, tmp_path),
            tmp_path / f"{gid}.log") for gid in GATHERERS}
        merger = on_host("production", ["dedup"], dedup_env(ca, tmp_path), tmp_path / "dedup.log")
        try:
            wait_until(lambda: trade_count(production) > 50, 90, "merged across the hosts")
            partition(dbs, tmp_path)
            wait_until(lambda: status_lag(dbs, tmp_path, "g1")[0] < 5, 120, "g1's lag recovers")
            finish(sim, gatherers, [dbs[f"{gid}_ts"].dsn for gid in GATHERERS])
        finally:
            sh("ip", "-n", netns("g1"), "link", "set", link("g1"), "up")
            for process in gatherers.values():
                stop(process)
            stop(merger)
    final = on_host("production", ["dedup", "--once"], dedup_env(ca, tmp_path),
                    tmp_path / "dedup.log")
    assert final.wait(120) == 0, (tmp_path / "dedup.log").read_text()[-2000:]
    settings = load(None, home=tmp_path, timescaledb="off", gatherers=list(GATHERERS),
                    dsn={name: db.dsn for name, db in dbs.items()})
    result = audit.audit(settings, audit.load_truth(tmp_path / "t.jsonl"), "production")
    assert audit.clean(result), audit.render(result)
    assert trade_ids(dbs["g1_ts"].dsn) <= trade_ids(production), "every row g1 captured"
