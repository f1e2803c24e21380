"""`kstore bench capture` as a script: `.venv/bin/python bench/capture.py [options]`, the same
options and output (`--help` lists them). The benchmark is kstore.bench.capture."""

import sys

from kstore import cli

if __name__ == "__main__":
    sys.exit(cli.main(["bench", "capture", *sys.argv[1:]]))
