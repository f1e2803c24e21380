"""Archive closed windows to the lake as verified Parquet.

For the production host: writes every window whose data is complete to the lake (a local
folder or S3), reads each file back and checks it against production before marking it done;
production's retention only drops what is verified here. Windows that receive late rows are
written again. Repeats every 30 s until Ctrl-C; `--once` does one pass. Exits 1 when a window
fails to verify.
"""

from __future__ import annotations

import argparse

from kstore.lake import export
from kstore.settings import Settings

add_arguments = export.add_arguments


def run(args: argparse.Namespace, settings: Settings) -> int:
    return export.main(settings, args)
