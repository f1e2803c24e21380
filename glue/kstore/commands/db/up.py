"""Create and start the local databases (3 gatherers + production).

For running kstore on one machine (trying it, developing, tests): the first run creates the
PostgreSQL clusters under the settings' home (.kstore/ by default) and their databases; every
run starts them and lists them as `kstore db status` does. Safe to repeat. Next: `kstore migrate`.
"""

from __future__ import annotations

import argparse

from kstore import topology
from kstore.commands.db import status
from kstore.settings import Settings

add_arguments = status.add_arguments


def run(args: argparse.Namespace, settings: Settings) -> int:
    topology.up(settings)
    return status.run(args, settings)
