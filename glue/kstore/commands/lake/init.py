"""Create the lake's S3 bucket and set its lifecycle rules.

For operators, once per lake (and after changing the rules): creates the bucket if it is
missing and makes its rules match policies/lake_lifecycle.json (raw/ to Glacier after 30 days,
processed/ to Infrequent Access after 90). `--check` only reports differences and exits 1 if
there are any. A local (file://) lake needs nothing: the folder is created.
"""

from __future__ import annotations

import argparse

from kstore.lake import lifecycle
from kstore.settings import Settings

add_arguments = lifecycle.add_arguments


def run(args: argparse.Namespace, settings: Settings) -> int:
    return lifecycle.main(settings, args)
