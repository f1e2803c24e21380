"""`kstore transform`: dbt builds the processed and aggregate layers in production, then the
lake export writes them to processed/ and aggregates/.

dbt runs as a subprocess (`dbt build`: models, schema tests and unit tests in DAG order) with the
repository's profiles.yml, connected to production as `kstore_transform` (migration V0022): an
embedded production is reached as that role; an external one (KSTORE_DSN__PRODUCTION) through its
DSN as given, like the deduplicator. The connection reaches dbt only as KSTORE_DBT_* environment
variables of the subprocess, so no host or secret is written anywhere. dbt's target/ and logs/
live under <home>/dbt, never in the repository; its console output too (logs/output.log)
unless --verbose: the console gets one summary line and a line per failed node. One transform at a time per production database
(an advisory lock held for the whole run).

What the lake export writes is declared in the dbt project, not here: a model whose yml sets
`config: {meta: {lake: {time_column: ..., granularity: hour|day|snapshot}}}` is exported to the
lake folder of its schema and name; the list is read from the manifest.json of the build.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from kstore import roles, topology
from kstore.settings import Settings, SettingsError

log = logging.getLogger("kstore.transform")

ROLE = roles.TRANSFORM
LAYERS = ("processed", "aggregates")  # the schemas whose models may go to the lake
DBT_MAIN = "from dbt.cli.main import cli; cli()"  # dbt of this interpreter, whatever PATH says
LOCK_KEY = 7_291_032  # one transform at a time per production database
FAILED = {"error", "fail", "runtime error"}  # node statuses (skipped: after a failed parent)
REPORTED = FAILED | {"warn"}
# libpq connection parameters the profile has no field for, passed as libpq's own variables.
LIBPQ_ENV = {"sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
             "sslcrl": "PGSSLCRL", "application_name": "PGAPPNAME"}


@dataclass(frozen=True)
class DbtResult:
    """One dbt invocation: its exit code and the status of every node it ran."""

    command: str
    returncode: int
    statuses: dict[str, str] = field(default_factory=dict)  # unique_id -> status
    messages: dict[str, str] = field(default_factory=dict)  # unique_id -> message (REPORTED)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not FAILED & set(self.statuses.values())

    def summary(self) -> str:
        counts = Counter(self.statuses.values())
        kinds = Counter(uid.split(".")[0] for uid in self.statuses)
        ran = ", ".join(f"{n} {kind}s" for kind, n in sorted(kinds.items()))
        states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        return f"dbt {self.command}: {ran or 'nothing'} ({states or 'no results'})"


def project_dir(settings: Settings) -> Path:
    return settings.repo_root / "dbt_project"


def dbt_environment(db: topology.Database) -> dict[str, str]:
    """The KSTORE_DBT_* variables profiles.yml reads, for production as kstore_transform."""
    params = conninfo_to_dict(db.dsn_for(ROLE))
    if "host" not in params or "dbname" not in params:
        raise SettingsError(f"{db.name}: the DSN must name host and dbname for dbt")
    environment = {
        "KSTORE_DBT_HOST": params["host"],
        "KSTORE_DBT_PORT": str(params.get("port", 5432)),
        "KSTORE_DBT_USER": params.get("user", ROLE),
        "KSTORE_DBT_PASSWORD": params.get("password", ""),
        "KSTORE_DBT_DBNAME": params["dbname"],
        "KSTORE_DBT_SSLMODE": params.get("sslmode", "prefer"),
    }
    environment |= {LIBPQ_ENV[key]: value for key, value in params.items() if key in LIBPQ_ENV}
    return environment


def run_dbt(settings: Settings, db: topology.Database, *arguments: str,
            verbose: bool = False) -> DbtResult:
    """One dbt command against `db`; its results are read back. Its output goes to ours with
    `verbose`, else to <home>/dbt/logs/output.log (the summary and failures are printed)."""
    work = work_dir(settings)
    command = [
        sys.executable, "-c", DBT_MAIN, *arguments,
        "--project-dir", str(project_dir(settings)),
        "--profiles-dir", str(settings.repo_root),
        "--target-path", str(work / "target"),
        "--log-path", str(work / "logs"),
    ]
    environment = os.environ | dbt_environment(db) | {
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "true" if sys.stdout.isatty() else "false",
    }
    results = work / "target" / ("sources.json" if arguments[0] == "source" else
                                 "run_results.json")
    results.unlink(missing_ok=True)  # never report a previous run's results
    if verbose:
        completed = subprocess.run(command, env=environment, cwd=project_dir(settings))
        return _read_results(arguments[0], completed.returncode, results)
    output = output_log(settings)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w") as log:
        completed = subprocess.run(command, env=environment, cwd=project_dir(settings),
                                   stdout=log, stderr=subprocess.STDOUT)
    result = _read_results(arguments[0], completed.returncode, results)
    if not result.statuses and completed.returncode:
        raise SettingsError(f"dbt {arguments[0]} failed: {_last_error(output)} (all of its "
                            f"output: {output})")
    return result


def docs_page(settings: Settings) -> Path:
    """The page `dbt docs generate` writes (open it in a browser, or `dbt docs serve`)."""
    return work_dir(settings) / "target" / "index.html"


def output_log(settings: Settings) -> Path:
    """Where dbt's console output of the last run goes when not --verbose."""
    return work_dir(settings) / "logs" / "output.log"


def _last_error(output: Path) -> str:
    lines = [line.strip() for line in output.read_text(errors="replace").splitlines()
             if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["no output"])[-1][:300]


def _read_results(command: str, returncode: int, path: Path) -> DbtResult:
    if not path.is_file():
        return DbtResult(command, returncode or 2)
    results = json.loads(path.read_text())["results"]
    statuses = {row["unique_id"]: row["status"] for row in results}
    messages = {row["unique_id"]: str(row.get("message") or row["status"])
                for row in results if row["status"] in REPORTED}
    return DbtResult(command, returncode, statuses, messages)


def build(settings: Settings, db: topology.Database, full_refresh: bool = False,
          select: str | None = None, verbose: bool = False) -> DbtResult:
    """`dbt build`: every model in DAG order, each followed by its unit and schema tests."""
    arguments = ["build"] + (["--full-refresh"] if full_refresh else [])
    arguments += ["--select", select] if select else []
    return run_dbt(settings, db, *arguments, verbose=verbose)


def freshness(settings: Settings, db: topology.Database, verbose: bool = False) -> DbtResult:
    """`dbt source freshness`: how long ago trades, deltas and tickers last reached production."""
    return run_dbt(settings, db, "source", "freshness", verbose=verbose)


def work_dir(settings: Settings) -> Path:
    """dbt's target/ and logs/ for this home, never in the repository."""
    return settings.home.resolve() / "dbt"


def lake_models(settings: Settings) -> list[tuple[str, str | None, str]]:
    """(relation, time column, granularity) of every model whose yml meta has a `lake` entry,
    from the manifest of the last dbt invocation (written on every build)."""
    manifest = work_dir(settings) / "target" / "manifest.json"
    if not manifest.is_file():
        raise SettingsError(f"{manifest}: no dbt manifest (run `kstore transform` first)")
    models = []
    for node in json.loads(manifest.read_text())["nodes"].values():
        lake = node["config"].get("meta", {}).get("lake")
        if node["resource_type"] != "model" or lake is None:
            continue
        if node["schema"] not in LAYERS or not isinstance(lake, dict):
            raise SettingsError(f"{node['name']}: meta.lake needs a model in {' or '.join(LAYERS)}"
                                " and {time_column, granularity}")
        relation = f"{node['schema']}.{node['alias'] or node['name']}"
        models.append((relation, lake.get("time_column"), lake.get("granularity")))
    return sorted(models, key=lambda model: (LAYERS.index(model[0].split(".")[0]), model[0]))


def export_layers(settings: Settings) -> list:
    """Write every model of lake_models to the lake folder of the same name
    (processed/prc_trades/, aggregates/agg_candles_1m/, ...) with the raw tables' verified-window
    mechanism. Every row carries xact_id (the transaction that wrote it), so the exporter's
    transaction-id cursor finds the windows a build rewrote, even with unchanged counts."""
    from kstore.lake.export import Exporter
    from kstore.lake.windows import Dataset

    try:
        datasets = [Dataset(relation, column, granularity, relation.replace(".", "/"), relation)
                    for relation, column, granularity in lake_models(settings)]
    except ValueError as error:  # a meta.lake the lake cannot export
        raise SettingsError(f"dbt meta.lake: {error}") from None
    with Exporter(settings) as exporter:
        return [exporter.export(dataset) for dataset in datasets]


@contextmanager
def single_run(db: topology.Database):
    """Hold production's transform lock for the block; refuse if another transform holds it."""
    with psycopg.connect(db.dsn_for(ROLE), autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("select pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]:
            raise SettingsError(f"{db.name}: another kstore transform is running")
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(%s)", [LOCK_KEY])


def run(settings: Settings, db: topology.Database, full_refresh: bool = False,
        select: str | None = None, export: bool = True, verbose: bool = False) -> DbtResult:
    """`kstore transform`: build under the transform lock, then, when every node passed,
    export the layers to the lake (one line per dataset)."""
    with single_run(db):
        result = build(settings, db, full_refresh, select, verbose)
    report(result)
    if not verbose and not result.ok:
        print(f"  dbt's output: {output_log(settings)}")
    if result.ok and export:
        for exported in export_layers(settings) or []:
            print(exported.line())
    return result


def report(result: DbtResult) -> None:
    print(result.summary())
    for unique_id, message in result.messages.items():
        print(f"  {unique_id}: {message.strip().splitlines()[0] if message.strip() else ''}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--full-refresh", action="store_true",
                        help="rebuild incremental models from scratch (except deltas and daily "
                        "stats, which outlive production's retention: full_refresh=false)")
    parser.add_argument("--select", help="dbt node selection, e.g. 'agg_candles_1m+'")
    parser.add_argument("--no-export", action="store_true", help="build only; no lake export")
    parser.add_argument("--freshness", action="store_true",
                        help="only check how fresh trades, deltas and tickers are; no build")
    parser.add_argument("--docs", action="store_true",
                        help="only `dbt docs generate` (no build): the catalog of sources and "
                        "models with their descriptions, in <home>/dbt/target/index.html")
    parser.add_argument("--verbose", action="store_true",
                        help="show dbt's own output (default: a summary and the failures)")


def main(settings: Settings, args: argparse.Namespace) -> int:
    db = topology.database(settings, topology.PRODUCTION)
    if args.docs:
        result = run_dbt(settings, db, "docs", "generate", verbose=args.verbose)
        print(f"dbt docs: {docs_page(settings)}" if result.returncode == 0 else
              f"dbt docs generate failed; dbt's output: {output_log(settings)}")
        return result.returncode
    if args.freshness:
        result = freshness(settings, db, args.verbose)
        report(result)
    else:
        result = run(settings, db, args.full_refresh, args.select, export=not args.no_export,
                     verbose=args.verbose)
    return 0 if result.ok else (result.returncode or 1)
