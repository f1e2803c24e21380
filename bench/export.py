"""`kstore bench export` as a script: `.venv/bin/python bench/export.py [--rows N] [--days D]
[--markets M] [--runs R] [--no-s3]`. The benchmark itself is kstore.lake.bench."""

from __future__ import annotations

import argparse
import sys

from kstore.lake import bench
from kstore.settings import load

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench/export.py", description=bench.__doc__)
    bench.add_arguments(parser)
    sys.exit(bench.main(load(), parser.parse_args()))
