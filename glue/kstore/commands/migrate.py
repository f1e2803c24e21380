"""Create or upgrade the database schemas (safe to re-run).

For operators, after `kstore db up` and after every kstore upgrade: applies the migrations not
yet applied to each configured database (the gatherers' and production's), re-applies the
re-runnable SQL definitions and tier policies, and refuses to run if an applied migration file
was edited since. Production is then attached to every gatherer so `kstore dedup` can merge
them. `--print` shows the psql script instead, to review or to apply by hand.
"""

from __future__ import annotations

import argparse
import sys

import psycopg

from kstore import dedup, migrate, topology
from kstore.settings import Settings, SettingsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", default="all",
                        choices=list(dict.fromkeys([*topology.TARGET_KINDS, *migrate.SQL_FOLDERS])),
                        help="which databases: gatherer, production or all (default); with "
                        "--dsn, its kind: gatherer_ts, gatherer_rel or production")
    parser.add_argument("--dsn", help="migrate this database instead of the configured ones")
    parser.add_argument("--print", action="store_true", help="print the psql script, apply nothing")


def run(args: argparse.Namespace, settings: Settings) -> int:
    for db in targets(settings, args.target, args.dsn):
        if args.print:
            print(migrate.plan(db, settings).script(inline=True), end="")
            continue
        done = migrate.apply(db, settings)
        applied = ", ".join(m.path.name for m in done.pending) or "no new migrations"
        print(f"{db.name}: {applied}; {len(done.definitions)} definitions re-applied "
              f"({done.storage})")
        if db.kind == "production" and not args.dsn:
            attach(settings, db)
    return 0


def targets(settings: Settings, target: str, dsn: str | None) -> list[topology.Database]:
    """The configured databases of the `target` kinds, or the one at `dsn` (its kind named)."""
    if not dsn:
        return topology.databases(settings, topology.TARGET_KINDS[target])
    if target not in migrate.SQL_FOLDERS:
        raise SettingsError("with --dsn, name the database kind: --target "
                            "gatherer_ts, gatherer_rel or production")
    return [topology.Database("dsn", "external", "", target, dsn, embedded=False)]


def attach(settings: Settings, db: topology.Database) -> None:
    """Attach the gatherers to production; a gatherer not migrated yet is a warning, since
    `kstore dedup init` attaches them later."""
    try:
        attached = dedup.attach(settings, db)
        print(f"{db.name}: gatherers attached through postgres_fdw: {', '.join(attached)}")
    except (psycopg.Error, SettingsError) as exc:
        first = str(exc).strip().splitlines()[0]
        print(f"{db.name}: gatherers not attached yet ({first}); migrate them, then run "
              "`kstore dedup init`", file=sys.stderr)
