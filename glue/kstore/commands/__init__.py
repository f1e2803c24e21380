"""Every `kstore` command, one row each: the words a user types and the module that runs them.

A command module has a docstring written for the people who run it (its first line is the
summary in `kstore --help`, the whole of it heads `kstore <command> --help`),
`add_arguments(parser)` and `run(args, settings) -> int`, the exit code. The CLI builds its
parser from this table, reads the settings once and passes them in. Adding a command is one
module and one row here.
"""

COMMANDS: tuple[tuple[str, str], ...] = (
    ("db up", "kstore.commands.db.up"),
    ("db down", "kstore.commands.db.down"),
    ("db status", "kstore.commands.db.status"),
    ("db reset", "kstore.commands.db.reset"),
    ("migrate", "kstore.commands.migrate"),
    ("maintain", "kstore.commands.maintain"),
    ("simulate", "kstore.commands.simulate"),
    ("gather", "kstore.commands.gather"),
    ("markets", "kstore.commands.markets"),
    ("audit", "kstore.commands.audit"),
    ("bench writer", "kstore.bench.writer"),
    ("bench capture", "kstore.bench.capture"),
    ("bench dedup", "kstore.bench.dedup"),
    ("bench export", "kstore.bench.export"),
    ("bench fuzz", "kstore.bench.fuzz"),
    ("bench catalogue", "kstore.bench.catalogue"),
    ("bench storage", "kstore.bench.storage"),
    ("dedup", "kstore.commands.dedup"),
    ("rebase", "kstore.commands.rebase"),
    ("backfill", "kstore.commands.backfill"),
    ("reconcile", "kstore.commands.reconcile"),
    ("reparse", "kstore.commands.reparse"),
    ("journal export", "kstore.journal.export"),
    ("export", "kstore.commands.export"),
    ("lake init", "kstore.commands.lake.init"),
    ("lake verify", "kstore.commands.lake.verify"),
    ("lake catalog", "kstore.commands.lake.catalog"),
    ("query", "kstore.commands.query"),
    ("transform", "kstore.commands.transform"),
    ("status", "kstore.commands.status"),
    ("up", "kstore.commands.up"),
)

# The summary of each group of commands, in `kstore --help` and `kstore <group> --help`.
GROUPS = {
    "db": "Start, stop and list the local databases (under .kstore/).",
    "bench": "Measure kstore here against a baseline run alongside it.",
    "journal": "The raw frame journal: copy closed hours to the lake.",
    "lake": "Set up the Parquet lake's bucket; check its objects against the manifest; print its\n"
             "tables' DDL for other engines.",
}
