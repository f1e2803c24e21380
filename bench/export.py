"""`kstore bench export` as a script: `.venv/bin/python bench/export.py [options]`, the same
options and output (`--help` lists them). The benchmark is kstore.bench.export."""

import sys

from kstore import cli

if __name__ == "__main__":
    sys.exit(cli.main(["bench", "export", *sys.argv[1:]]))
