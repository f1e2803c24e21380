"""`kstore bench dedup` as a script: `.venv/bin/python bench/dedup.py [options]`, the same
options and output (`--help` lists them). The benchmark is kstore.bench.dedup."""

import sys

from kstore import cli

if __name__ == "__main__":
    sys.exit(cli.main(["bench", "dedup", *sys.argv[1:]]))
