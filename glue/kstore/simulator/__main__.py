"""`python -m kstore.simulator [flags]`: the same flags as `kstore simulate`."""

import argparse
import logging

from . import add_arguments, options_from_args, run

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = add_arguments(argparse.ArgumentParser(prog="python -m kstore.simulator", description=__doc__))
    run(options_from_args(parser.parse_args()))
