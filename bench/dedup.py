"""`kstore bench dedup` as a script: `.venv/bin/python bench/dedup.py [--rows N]
[--table orderbook_deltas|trades] [--repeat K] [--lag-rate R] [--lag-seconds S]
[--only throughput|lag]`. The benchmark itself is kstore.bench_dedup."""

from __future__ import annotations

import argparse
import sys

from kstore import bench_dedup
from kstore.settings import load

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench/dedup.py", description=bench_dedup.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_dedup.add_arguments(parser)
    sys.exit(bench_dedup.main(load(), parser.parse_args()))
