"""`kstore bench writer` as a script: `.venv/bin/python bench/writer.py [options]`, the same
options and output (`--help` lists them). The benchmark is kstore.bench.writer."""

import sys

from kstore import cli

if __name__ == "__main__":
    sys.exit(cli.main(["bench", "writer", *sys.argv[1:]]))
