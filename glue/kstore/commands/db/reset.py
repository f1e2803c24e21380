"""Empty the local databases and the local lake, then migrate again (needs --yes).

For starting over on one machine: every embedded database (3 gatherers + production) is
dropped and created again, migrated and attached, so it holds the schema and no data; the lake
and the gatherers' raw journals under the home (when lake.url / gather.journal.directory are not
set), dbt's work files and the run files go too: no frame captured before the reset reaches the
lake afterwards through `kstore journal export` or `kstore reparse`. Stop
`kstore up` first (open sessions are closed). External databases (KSTORE_DSN__*) are never
touched: it refuses.
"""

from __future__ import annotations

import argparse
import shutil

from kstore import topology
from kstore import up as platform
from kstore.settings import Settings, SettingsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true",
                        help="really delete every row of the local databases and lake")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.yes:
        raise SettingsError(f"this deletes every row under {settings.home} (databases, "
                            "lake and journals): run `kstore db reset --yes`")
    topology.recreate(settings)
    platform.prepare(settings)
    # What lives under the home goes; a lake or journal placed elsewhere is not ours to delete.
    folders = ["dbt", "run"] + ([] if settings.lake.url else ["lake"]) + \
        ([] if settings.gather.journal.directory else ["journal"])
    for folder in folders:
        shutil.rmtree(settings.home / folder, ignore_errors=True)
    names = ", ".join(db.name for db in topology.databases(settings))
    print(f"kstore: {names} empty and migrated; removed {', '.join(folders)} under "
          f"{settings.home}")
    return 0

