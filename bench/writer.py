"""`kstore bench writer` as a script: `.venv/bin/python bench/writer.py [--rows N] [--repeat K]
[--candidates]`. The benchmark itself is kstore.bench_writer (importable by the CLI)."""

from __future__ import annotations

import argparse
import sys

from kstore import bench_writer
from kstore.settings import load

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench/writer.py", description=bench_writer.__doc__)
    bench_writer.add_arguments(parser)
    sys.exit(bench_writer.main(load(), parser.parse_args()))
