"""`kstore bench fuzz` as a script: `.venv/bin/python bench/fuzz.py [options]`, the same
options and output (`--help` lists them). The benchmark is kstore.bench.fuzz."""

import sys

from kstore import cli

if __name__ == "__main__":
    sys.exit(cli.main(["bench", "fuzz", *sys.argv[1:]]))
