"""kstore captures Kalshi market data with three independent gatherers, merges it into one
production database without duplicates, and archives it to a Parquet lake you can query.

Try it on one machine: `kstore db up`, `kstore migrate`, then `kstore up --duration 60`.
Settings come from ./kstore.toml (or --config, or KSTORE_CONFIG) and KSTORE_* environment
variables; secrets only from the environment. `kstore <command> --help` tells more.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import select
import sys
from pathlib import Path

import psycopg
from pydantic import ValidationError

from kstore.commands import COMMANDS, GROUPS
from kstore.gatherer.connection import AuthRefused
from kstore.gatherer.rest import ExchangeError
from kstore.migrate import MigrationError
from kstore.pgcluster import ClusterError
from kstore.settings import SettingsError, load

# Failures a user can cause or fix (bad settings, a database down, an edited migration, a
# refused login): one line on stderr and exit 1. Anything else is a bug and keeps its traceback.
EXPECTED_ERRORS = (SettingsError, ClusterError, MigrationError, psycopg.Error, OSError,
                   AuthRefused, ExchangeError)


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (`kstore migrate: error: …`, exit 2), no usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = load(Path(args.config) if args.config else _config_from_env())
        code = args.command.run(args, settings) or 0
        sys.stdout.flush()  # here, not at exit: a reader that went away is handled below
        return code
    except BrokenPipeError as exc:  # before OSError: the reader of our output went away
        return 141 if _stdout_closed() else _fail(str(exc))
    except ValidationError as exc:
        first = exc.errors()[0]
        return _fail(f"invalid {'.'.join(map(str, first['loc']))}: {first['msg']}")
    except EXPECTED_ERRORS as exc:
        return _fail(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
    except KeyboardInterrupt:
        return 130


def _stdout_closed() -> bool:
    """Whether stdout's reader has gone (`kstore … | head`: the pipe's write end reports an
    error): then the rest of the output goes nowhere, quietly, and the exit is 141 (128 +
    SIGPIPE) as for any command in a pipe. A broken pipe elsewhere stays an error."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        gone = any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False
    if gone:  # the rest of the output, and the flush at exit, go to /dev/null
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return gone


def _fail(message: str) -> int:
    print(f"kstore: error: {message}", file=sys.stderr)
    return 1


def _config_from_env() -> Path | None:
    value = os.environ.get("KSTORE_CONFIG")
    return Path(value) if value else None


def parser() -> Parser:
    """The whole command line, built from the table in kstore.commands."""
    top = Parser(prog="kstore", description=__doc__,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--config", help="TOML settings file (default: ./kstore.toml)")
    groups = {(): top.add_subparsers(dest="command_name", required=True, metavar="<command>")}
    for words, module_name in COMMANDS:
        module = importlib.import_module(module_name)
        *group, name = words.split()
        summary = (module.__doc__ or "").strip().splitlines()[0]
        sub = _group(groups, tuple(group)).add_parser(
            name, help=summary, description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(command=module)
    return top


def _group(groups: dict, words: tuple[str, ...]):
    """The subcommands of `kstore <words>`, made on first use (a group is listed where its
    first command's row is)."""
    if words not in groups:
        text = GROUPS[words[-1]]
        group = _group(groups, words[:-1]).add_parser(words[-1], help=text, description=text)
        groups[words] = group.add_subparsers(dest=f"{'_'.join(words)}_command", required=True,
                                             metavar="<command>")
    return groups[words]


if __name__ == "__main__":
    sys.exit(main())
