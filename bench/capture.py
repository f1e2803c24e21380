"""`kstore bench capture` as a script: `.venv/bin/python bench/capture.py [--seconds S]
[--rates 5000,10000,...]`. The benchmark itself is kstore.bench_capture."""

from __future__ import annotations

import argparse
import sys

from kstore import bench_capture
from kstore.settings import load

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench/capture.py", description=bench_capture.__doc__)
    bench_capture.add_arguments(parser)
    sys.exit(bench_capture.main(load(), parser.parse_args()))
