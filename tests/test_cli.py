"""The `kstore` command line: built from one table of command modules; help for users; bad input
is one line and a non-zero exit."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, kstore_env
from kstore import cli
from kstore.commands import COMMANDS, GROUPS


@pytest.mark.parametrize("words, module_name", COMMANDS)
def test_every_command_is_a_module_with_user_help(words, module_name, capsys):
    module = importlib.import_module(module_name)
    assert callable(module.add_arguments) and callable(module.run)
    summary = module.__doc__.strip().splitlines()[0]
    with pytest.raises(SystemExit) as exit_:
        cli.parser().parse_args([*words.split(), "--help"])
    assert exit_.value.code == 0
    assert summary in capsys.readouterr().out
    assert cli.parser().parse_args(words.split() + _required(words)).command is module


def _required(words: str) -> list[str]:
    return {"gather": ["--gatherer", "g1"], "audit": ["--truth", "t", "--target", "g1"],
            "query": ["select 1"], "rebase": ["--gatherer", "g1"],
            "backfill": ["--from", "g2", "--to", "g1", "--since", "2026-01-01",
                         "--until", "2026-01-02"],
            "reparse": ["--gatherer", "g1", "--since", "2026-01-01",
                        "--until", "2026-01-02"]}.get(words, [])


def test_every_group_has_a_summary():
    groups = {" ".join(words.split()[:-1]) for words, _ in COMMANDS} - {""}
    assert groups == set(GROUPS)


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert all(f"    {words.split()[0]} " in out for words, _ in COMMANDS)


@pytest.mark.parametrize("argv", [[], ["db"], ["migrate", "--target", "everything"],
                                  ["bench", "writer", "--rows", "many"],
                                  ["bench", "dedup", "--repeat", "0"],
                                  ["bench", "capture", "--rates", "5000,fast"]])
def test_bad_arguments_are_one_line_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("kstore") and ": error: " in err and err.count("\n") == 1


def test_bench_options_are_unchanged():
    args = cli.parser().parse_args(["bench", "writer", "--rows", "2000", "--repeat", "2",
                                    "--candidates"])
    assert (args.rows, args.repeat, args.candidates) == (2000, 2, True)
    args = cli.parser().parse_args(["bench", "capture", "--rates", "5000,10000"])
    assert args.rates == [5000, 10000]
    args = cli.parser().parse_args(["bench", "dedup", "--only", "lag", "--table", "trades"])
    assert (args.only, args.table, args.storage) == ("lag", "trades", "plain")
    args = cli.parser().parse_args(["bench", "export", "--no-s3", "--deltas", "0"])
    assert (args.no_s3, args.deltas, args.repeat) == (True, 0, 3)


def test_a_reader_that_goes_away_is_not_an_error(tmp_path):
    """`kstore db status | head`, the reader gone before kstore writes: the output goes nowhere,
    quietly, exit 141 as for any command in a pipe (was `kstore: error: [Errno 32] Broken
    pipe`)."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "kstore.cli", "db", "status"], stdout=write,
                              stderr=subprocess.PIPE, cwd=REPO_ROOT, timeout=60,
                              env=kstore_env({"KSTORE_HOME": str(tmp_path / "home")}))
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, b"")
