"""The `kstore` command: parses arguments, reads settings once, calls a module. No logic here."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import datetime
from pathlib import Path

import psycopg

from pydantic import ValidationError

from kstore import (audit, backfill, bench_capture, bench_dedup, bench_writer, dedup, maintain,
                    migrate,
                    simulator, topology, transform)
from kstore import up as platform
from kstore.lake import bench as bench_export
from kstore.lake import export as lake_export
from kstore.lake import lifecycle as lake_lifecycle
from kstore.lake import query as lake_query
from kstore.gatherer import run as gatherer
from kstore.gatherer.connection import AuthRefused
from kstore.gatherer.rest import ExchangeError
from kstore.pgcluster import ClusterError
from kstore.settings import Settings, SettingsError, load

EXPECTED_ERRORS = (SettingsError, ClusterError, migrate.MigrationError, psycopg.Error, OSError,
                   AuthRefused, ExchangeError)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = load(Path(args.config) if args.config else _config_from_env())
        return args.handler(settings, args) or 0
    except ValidationError as exc:
        first = exc.errors()[0]
        print(f"kstore: error: invalid {'.'.join(map(str, first['loc']))}: {first['msg']}",
              file=sys.stderr)
        return 1
    except EXPECTED_ERRORS as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        print(f"kstore: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _config_from_env() -> Path | None:
    value = os.environ.get("KSTORE_CONFIG")
    return Path(value) if value else None


def _db_up(settings: Settings, args) -> int:
    topology.up(settings)
    return _db_status(settings, args)


def _db_down(settings: Settings, args) -> int:
    topology.down(settings)
    print("kstore: embedded clusters stopped")
    return 0


def _db_status(settings: Settings, args) -> int:
    rows = topology.status(settings)
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2, default=str))
    else:
        for row in rows:
            state = "up" if row["up"] else f"down ({row['error']})"
            print(f"{row['name']:<12} {state:<10} {row['storage'] or '':<28} {row['dsn']}")
    return 0 if all(row["up"] for row in rows) else 3


def _migrate(settings: Settings, args) -> int:
    for db in _migration_targets(settings, args):
        if args.print:
            print(migrate.plan(db, settings).script(), end="")
            continue
        done = migrate.apply(db, settings)
        applied = ", ".join(m.path.name for m in done.pending) or "no new migrations"
        print(f"{db.name}: {applied}; {len(done.definitions)} definitions re-applied "
              f"({done.storage})")
        if db.kind == "production" and not args.dsn:
            _attach(settings, db)
    return 0


def _attach(settings: Settings, db: topology.Database) -> None:
    try:
        attached = dedup.attach(settings, db)
        print(f"{db.name}: gatherers attached through postgres_fdw: {', '.join(attached)}")
    except (psycopg.Error, SettingsError) as exc:
        first = str(exc).strip().splitlines()[0]
        print(f"{db.name}: gatherers not attached yet ({first}); migrate them, then run "
              "`kstore dedup init`", file=sys.stderr)


def _migration_targets(settings: Settings, args) -> list[topology.Database]:
    if not args.dsn:
        return topology.databases(settings, topology.TARGET_KINDS[args.target])
    if args.target not in migrate.SQL_FOLDERS:
        raise SettingsError("with --dsn, name the database kind: --target "
                            "gatherer_ts, gatherer_rel or production")
    return [topology.Database("dsn", "external", "", args.target, args.dsn, embedded=False)]


def _maintain(settings: Settings, args) -> int:
    as_of = datetime.fromisoformat(args.as_of) if args.as_of else None
    for db in maintain.targets(settings, args.target):
        actions = maintain.run(db, as_of)
        for table, action, obj, detail in actions:
            print(f"{db.name}: {action} {obj} ({table}): {detail}")
        print(f"{db.name}: maintenance done, {len(actions)} action(s)")
    return 0


def _simulate(settings: Settings, args) -> int:
    simulator.run(simulator.options_from_args(args))
    return 0


def _gather(settings: Settings, args) -> int:
    summary = gatherer.run(settings, args.gatherer, args.duration)
    print(json.dumps(summary, default=str))
    return 0


def _audit(settings: Settings, args) -> int:
    result = audit.audit(settings, audit.load_truth(Path(args.truth)), args.target)
    print(json.dumps(result, indent=2) if args.json else audit.render(result))
    return 0 if audit.clean(result) else 1


def _dedup(settings: Settings, args) -> int:
    if args.action == "init":
        attached = dedup.attach(settings, topology.database(settings, topology.PRODUCTION))
        print(f"gatherers attached through postgres_fdw: {', '.join(attached)}")
        return 0
    print(json.dumps(dedup.run(settings, args.once, args.duration), default=str))
    return 0


def _status(settings: Settings, args) -> int:
    databases = topology.status(settings)
    cursors = dedup.status(settings) if any(
        row["name"] == topology.PRODUCTION and row["up"] for row in databases) else []
    if args.json:
        print(json.dumps({"databases": databases, "dedup": cursors}, indent=2, default=str))
        return 0
    for row in databases:
        print(f"{row['name']:<12} {'up' if row['up'] else 'DOWN':<5} {row['storage'] or ''}")
    for row in cursors:
        lag = "?" if row["lag_s"] is None else f"{row['lag_s']:.1f}s"
        print(f"dedup {row['gatherer']}/{row['table']:<20} lag {lag:>8}  merged "
              f"{row['rows_merged']:>10}  duplicates {row['duplicate_rate']:.1%}  "
              f"{'stopped ' if row['capture_stopped_at'] else ''}{row['last_error'] or ''}")
    return 0


def _up(settings: Settings, args) -> int:
    forwarded = [(flag, value) for flag, value in (
        ("--seed", args.seed), ("--duration", args.duration), ("--truth", args.truth),
        ("--faults", args.faults), ("--rate", args.rate), ("--markets", args.markets),
        ("--disconnect-every", args.disconnect_every)) if value is not None]
    simulate_args = [str(part) for pair in forwarded for part in pair]
    return platform.run(settings, simulate_args, feed_ends=args.duration is not None)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kstore", description=__doc__)
    parser.add_argument("--config", help="TOML settings file (default: ./kstore.toml)")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="embedded database topology under .kstore/")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    for name, handler, text in (("up", _db_up, "init and start the clusters"),
                                ("down", _db_down, "stop the clusters"),
                                ("status", _db_status, "every database, DSN, storage path")):
        sub = db_commands.add_parser(name, help=text)
        sub.add_argument("--json", action="store_true", help="machine-readable output")
        sub.set_defaults(handler=handler)

    mig = commands.add_parser("migrate", help="apply migrations, sql/ and policies/")
    mig.add_argument("--target", default="all",
                     choices=[*topology.TARGET_KINDS, *migrate.SQL_FOLDERS])
    mig.add_argument("--dsn", help="migrate this database instead of the configured ones")
    mig.add_argument("--print", action="store_true", help="print the psql script, apply nothing")
    mig.set_defaults(handler=_migrate)

    mnt = commands.add_parser("maintain", help="guarded retention, compression, partitions")
    mnt.add_argument("--target", default="all", choices=list(topology.TARGET_KINDS))
    mnt.add_argument("--as-of", help="ISO timestamp to treat as now (default: now)")
    mnt.set_defaults(handler=_maintain)

    sim = commands.add_parser("simulate", help="a Kalshi-compatible exchange on localhost")
    simulator.add_arguments(sim)
    sim.set_defaults(handler=_simulate)

    gat = commands.add_parser("gather", help="run one gatherer until Ctrl-C or --duration")
    gat.add_argument("--gatherer", required=True, help="gatherer id, e.g. g1")
    gat.add_argument("--duration", type=float, help="seconds to run, then flush and exit")
    gat.set_defaults(handler=_gather)

    aud = commands.add_parser("audit", help="compare a database with a simulator truth file")
    aud.add_argument("--truth", required=True, help="JSONL written by kstore simulate --truth")
    aud.add_argument("--target", required=True, help="g1, g2, g3 or production")
    aud.add_argument("--json", action="store_true")
    aud.set_defaults(handler=_audit)

    bench = commands.add_parser("bench", help="benchmarks: ratios against a baseline, same run")
    benches = bench.add_subparsers(dest="bench_command", required=True)
    for name, module, text in (("writer", bench_writer, "batch writer vs baseline and COPY"),
                               ("capture", bench_capture, "simulator -> gatherer -> rows"),
                               ("dedup", bench_dedup, "merge of 3 gatherers vs client-side"),
                               ("export", bench_export, "production -> verified Parquet")):
        sub = benches.add_parser(name, help=text)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.main)

    ded = commands.add_parser("dedup", help="merge the gatherers into production")
    ded.add_argument("action", nargs="?", choices=["run", "init"], default="run",
                     help="run (default) or init: attach the gatherers (postgres_fdw)")
    ded.add_argument("--once", action="store_true", help="catch up once, then exit")
    ded.add_argument("--duration", type=float, help="seconds to run")
    ded.set_defaults(handler=_dedup)

    bfl = commands.add_parser("backfill", help="refill a gatherer from another or production")
    backfill.add_arguments(bfl)
    bfl.set_defaults(handler=backfill.main)

    exp = commands.add_parser("export", help="closed windows to verified Parquet in the lake")
    lake_export.add_arguments(exp)
    exp.set_defaults(handler=lake_export.main)

    lake = commands.add_parser("lake", help="the lake bucket")
    lake_commands = lake.add_subparsers(dest="lake_command", required=True)
    lake_init = lake_commands.add_parser("init", help="bucket and lifecycle rules (S3)")
    lake_lifecycle.add_arguments(lake_init)
    lake_init.set_defaults(handler=lake_lifecycle.main)

    qry = commands.add_parser("query", help="DuckDB over the lake")
    lake_query.add_arguments(qry)
    qry.set_defaults(handler=lake_query.main)

    trf = commands.add_parser("transform", help="dbt build of processed/aggregates, then export")
    transform.add_arguments(trf)
    trf.set_defaults(handler=transform.main)

    sta = commands.add_parser("status", help="databases and dedup lag per gatherer/table")
    sta.add_argument("--json", action="store_true")
    sta.set_defaults(handler=_status)

    up = commands.add_parser("up", help="the whole capture path, supervised, until Ctrl-C")
    up.add_argument("--seed", type=int, help="simulator seed")
    up.add_argument("--duration", type=float, help="feed seconds, then flush, merge and exit")
    up.add_argument("--truth", help="simulator truth file, for kstore audit")
    up.add_argument("--faults", help="simulator faults: gaps,disconnects,duplicates,malformed,slow")
    up.add_argument("--rate", type=float, help="simulator events per second")
    up.add_argument("--markets", type=int, help="simulator markets")
    up.add_argument("--disconnect-every", type=float, help="seconds between injected disconnects")
    up.set_defaults(handler=_up)
    return parser


if __name__ == "__main__":
    sys.exit(main())
